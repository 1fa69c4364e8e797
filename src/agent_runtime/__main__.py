from agent_runtime.server import main

main()

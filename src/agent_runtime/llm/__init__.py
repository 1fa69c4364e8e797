"""LLM providers behind one small interface (`base.LLMProvider`): streamed
text tokens and tool calls."""

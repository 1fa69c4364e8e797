// Swagger UI over the server's own document; "Authorize" takes the
// X-API-Key (or a bearer token) that try-it calls then send.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});

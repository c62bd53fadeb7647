// /api/docs: Swagger UI on the API's OpenAPI document, from files this server serves
// (swagger-ui-py's copy): no CDN to reach, and no inline script for the CSP to refuse.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});

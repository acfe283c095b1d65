// Renders /openapi.json with Swagger UI. A file of its own, on this origin: the Content-Security-
// Policy lets no inline script run. No validator badge (it would call a third party).
window.addEventListener('load', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});

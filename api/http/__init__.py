"""HTTP plumbing: middleware, OpenAPI, downloads, timing, metrics, rate limits."""

"""The API's routers, one module per resource; ``backend.app`` mounts them all under ``/api/v1``."""

"""The `Queue` dynamic resource: a Salad job queue (pure core, provider, resource)."""

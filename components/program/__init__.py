"""The Pulumi program: stack config, the `A1111Deployment` component, and the wiring `__main__.py` uses."""

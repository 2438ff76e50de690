"""The model-baked image: the model list and its checks, the model fetcher, and the `ModelImage` component."""

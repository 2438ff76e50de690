"""SaladCloud public API: client, errors, retry rules and the shared rate budget."""

from components.salad.client import DEFAULT_BASE_URL, SaladClient
from components.salad.errors import SaladApiError
from components.salad.rate_budget import RateBudget, shared_budget
from components.salad.retry import RetryPolicy

__all__ = ["DEFAULT_BASE_URL", "RateBudget", "RetryPolicy", "SaladApiError", "SaladClient", "shared_budget"]

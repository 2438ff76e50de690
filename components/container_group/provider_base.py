"""What every salad-sd dynamic provider shares: settings from `configure`, one client per process, pickling.

Only the class reference goes into a resource's `__provider`: settings (the API key among them), the client
and caches are process state, rebuilt after unpickling.
"""

from __future__ import annotations

import threading
from typing import Any

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from components.container_group.settings import ProviderSettings, salad_client, settings_from_config
from components.salad.client import SaladClient


class SaladResourceProvider(ResourceProvider):
    def __init__(self) -> None:
        self._settings: ProviderSettings | None = None
        self._salad: SaladClient | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, int]:
        return {"format": 1}

    def __setstate__(self, _state: dict[str, int]) -> None:
        self.__init__()  # type: ignore[misc]

    def configure(self, req: ConfigureRequest) -> None:
        self._settings = settings_from_config(req.config.get)

    def _with_location(self, news: dict[str, Any]) -> dict[str, Any]:
        """`news` with organization and project from the provider settings where the inputs leave them out."""
        news = dict(news)
        settings = self._current_settings()
        for key, default in (("organization", settings.organization), ("project", settings.project)):
            if news.get(key) is None and default:
                news[key] = default
        return news

    def _client(self) -> SaladClient:
        """The process's client on the key's shared rate budget; SettingsError when no key is configured."""
        with self._lock:
            if self._salad is None:
                self._salad = salad_client(self._current_settings())
            return self._salad

    def _current_settings(self) -> ProviderSettings:
        if self._settings is None:
            self._settings = settings_from_config(lambda _key: None)
        return self._settings

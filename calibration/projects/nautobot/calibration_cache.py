"""Django's local-memory cache with the two django-redis calls Nautobot makes: ``delete_pattern`` and ``lock``."""

import fnmatch
import threading

from django.core.cache.backends.locmem import LocMemCache


class LocalMemoryCache(LocMemCache):
    def delete_pattern(self, pattern, version=None):
        """Delete the keys matching the glob ``pattern`` (as django-redis does on Redis's KEYS)."""
        prefix = self.make_key("", version=version)
        with self._lock:
            matching = [key for key in self._cache if fnmatch.fnmatchcase(key[len(prefix) :], pattern)]
        for key in matching:
            with self._lock:
                self._delete(key)
        return len(matching)

    def lock(self, key, timeout=None, **kwargs):
        """A lock within this process: one process's workers never share this cache anyway."""
        return threading.Lock()

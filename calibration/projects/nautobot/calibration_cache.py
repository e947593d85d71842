"""Django's local-memory cache with the two django-redis calls Nautobot makes: ``delete_pattern`` and ``lock``."""

import fnmatch
import threading

from django.core.cache.backends.locmem import LocMemCache

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


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
        """The lock named ``key`` within this process (the cache itself is never shared between processes)."""
        with _locks_guard:
            return _locks.setdefault(self.make_key(key), threading.Lock())

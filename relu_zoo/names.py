"""The one `Registry` class of relu_zoo: names, aliases (a name plus default overrides), did-you-mean errors and
listing. It holds the activations (`relu_zoo.registry`), models (`relu_zoo.models`), tasks (`relu_zoo.tasks`),
studies and sweep presets (`relu_zoo.run.spec`)."""

import difflib


def did_you_mean(name, choices):
    """" Did you mean 'x'?" for the closest of `choices` to `name`, or "" when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry:
    """Names -> entries, with aliases (a name plus default overrides) and did-you-mean errors.

    Args:
        kind: What an entry is, for messages: "activation" gives "Unknown activation 'x'".
        listing: How the valid names are introduced in that message ("Valid names", "Presets").
        normalize: Applied to a looked-up name before matching (e.g. lower-casing).
    """

    def __init__(self, kind, listing="Valid names", normalize=None):
        self.kind, self.listing = kind, listing
        self._normalize = normalize or (lambda name: name)
        self._entries, self._aliases = {}, {}

    def register(self, name, entry, overwrite=False):
        """Adds `entry` under `name`; returns the entry. A taken name is a ValueError unless `overwrite`."""
        if not overwrite and (name in self._entries or name in self._aliases):
            raise ValueError(f"{self.kind.capitalize()} {name!r} is already registered.")
        self._entries[name] = entry
        return entry

    def remove(self, name):
        """Removes `name` and the aliases that point to it (e.g. an entry a test registered)."""
        self._entries.pop(name, None)
        self._aliases = {a: (t, d) for a, (t, d) in self._aliases.items() if t != name}

    def alias(self, alias, target, **defaults):
        """Makes `alias` resolve to `target` with `defaults` as its parameters."""
        if target not in self._entries:
            raise self.unknown(target)
        self._aliases[alias] = (target, dict(defaults))

    def names(self, where=None):
        """Sorted registered names (aliases not included); `where(entry)` filters."""
        return sorted(n for n, e in self._entries.items() if where is None or where(e))

    def aliases(self):
        """Alias -> target name, sorted by alias."""
        return {alias: target for alias, (target, _) in sorted(self._aliases.items())}

    def items(self):
        return self._entries.items()

    def __contains__(self, name):
        try:
            key = self._normalize(name)
        except (AttributeError, TypeError):
            return False
        return key in self._entries or key in self._aliases

    def resolve(self, name):
        """(canonical name, default overrides) for a name or alias; a did-you-mean ValueError otherwise."""
        try:
            key = self._normalize(name)
        except (AttributeError, TypeError):
            raise self.unknown(name) from None
        if key in self._entries:
            return key, {}
        if key in self._aliases:
            target, defaults = self._aliases[key]
            return target, dict(defaults)
        raise self.unknown(name, key)

    def get(self, name):
        """The entry registered as `name` (or the entry an alias points to)."""
        return self._entries[self.resolve(name)[0]]

    def unknown(self, name, key=None):
        """The ValueError for an unknown name: the closest match and every valid name (and alias)."""
        key = name if key is None else key
        hint = did_you_mean(key, [*self._entries, *self._aliases])
        aliases = f"; aliases: {', '.join(sorted(self._aliases))}" if self._aliases else ""
        return ValueError(f"Unknown {self.kind} {name!r}.{hint} {self.listing}: {', '.join(self.names())}"
                          f"{aliases}.")

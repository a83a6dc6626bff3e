"""Griffe extension (mkdocs.yml): read the Keras-style `Example:` docstring section as a Google-style one.

relu_zoo's docstrings follow Keras: `Example:` followed by a blank line and `>>>` lines at the heading's own
indentation. Google style, which mkdocstrings parses, wants `Examples:` with an indented body. Rewritten so
here (the source is unchanged and stays a doctest), the examples render as code, not as Markdown block quotes.
"""

import re

import griffe

HEADING = re.compile(r"^([ \t]*)[A-Z][\w ]*:[ \t]*$")


def google_examples(text):
    """`text` with each `Example:` section renamed `Examples:` and its body indented under it."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        match = HEADING.match(lines[i])
        if not (match and lines[i].strip() == "Example:"):
            out.append(lines[i])
            i += 1
            continue
        indent = match.group(1)
        out.append(f"{indent}Examples:")
        i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        while i < len(lines) and not ((m := HEADING.match(lines[i])) and m.group(1) == indent):
            out.append(f"{indent}    {lines[i][len(indent):]}" if lines[i].strip() else "")
            i += 1
    return "\n".join(out)


class KerasDocstrings(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = google_examples(obj.docstring.value)

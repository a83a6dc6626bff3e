"""Griffe extension (mkdocs.yml): read the Keras-style `Example:` docstring section as a Google-style one.

relu_zoo's docstrings follow Keras: `Example:` followed by a blank line and `>>>` lines at the heading's own
indentation. Google style, which mkdocstrings parses, wants `Examples:` with an indented body. Rewritten so
here (the source is unchanged and stays a doctest), the examples render as code, not as Markdown block quotes;
so do `>>>` lines elsewhere in a docstring's text, fenced as code.
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


def fenced_prompts(text):
    """`text` with each run of `>>>` / `...` lines outside an `Examples:` section fenced as a code block."""
    lines, out, section = text.split("\n"), [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = HEADING.match(line)
        if match:
            section = (match.group(1), line.strip() == "Examples:")
        elif section and section[1] and line.strip() and not line.startswith(section[0] + " "):
            section = None
        if line.lstrip().startswith(">>>") and not (section and section[1]):
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}```python")
            while i < len(lines) and lines[i].lstrip().startswith((">>>", "...")):
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class KerasDocstrings(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is None:
            return
        if "Example:" in obj.docstring.value:
            obj.docstring.value = google_examples(obj.docstring.value)
        if ">>>" in obj.docstring.value:
            obj.docstring.value = fenced_prompts(obj.docstring.value)

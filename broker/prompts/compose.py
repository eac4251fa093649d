"""Pure steps between a template version and a job: render into a request, and diff versions."""

from __future__ import annotations

import difflib
import json

from broker.prompts.render import render
from schemas.chat import JobRequest
from schemas.prompts import TemplateVersion

SAMPLING_DEFAULTS = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "response_format")


def rendered_request(request: JobRequest, version: TemplateVersion) -> JobRequest:
    """The job's request with the template's messages rendered in place of ``prompt``, and the
    template's model or tier and parameters wherever the job did not set its own. Workers
    only ever see this: plain messages, no template and no variables."""
    assert request.prompt is not None
    messages = render(version, request.prompt.variables)
    data = request.model_dump(exclude_none=True, exclude={"prompt", "messages"})
    data["messages"] = [message.model_dump(exclude_none=True) for message in messages]
    if request.model is None and request.tier is None:
        if version.model is not None:
            data["model"] = version.model
        elif version.tier is not None:
            data["tier"] = version.tier
    for name in SAMPLING_DEFAULTS:
        default = getattr(version.params, name)
        if getattr(request, name) is None and default is not None:
            data[name] = default
    if request.output_cap() is None and version.params.max_tokens is not None:
        data["max_tokens"] = version.params.max_tokens
    return JobRequest.model_validate(data)


def describe(version: TemplateVersion) -> list[str]:
    """A version as stable, line-oriented text (messages verbatim) for diffs and `show`."""
    lines = [f"model: {version.model or '-'}", f"tier: {version.tier or '-'}"]
    params = version.params.model_dump(exclude_none=True)
    lines += [f"params.{name}: {json.dumps(value, sort_keys=True)}" for name, value in sorted(params.items())]
    for variable in version.variables:
        extra = f" allowed={json.dumps(variable.allowed)}" if variable.allowed else ""
        lines.append(f"variable {variable.name}: {variable.type} max_length={variable.max_length}{extra}")
    for index, message in enumerate(version.messages):
        lines.append(f"messages[{index}] {message.role}:")
        lines += ["    " + line for line in message.content.split("\n")]
    return lines


def version_diff(a: TemplateVersion, b: TemplateVersion) -> str:
    """A unified diff of messages, variables, model and parameters from version ``a`` to ``b``."""
    return "\n".join(
        difflib.unified_diff(
            describe(a),
            describe(b),
            fromfile=f"{a.template_id} v{a.version}",
            tofile=f"{b.template_id} v{b.version}",
            lineterm="",
        )
    )

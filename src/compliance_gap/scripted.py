"""Scripted offline models for tests and dry runs: no network, no tokenizer download.

``scripted_model(respond)`` wraps Inspect's ``mockllm`` with a function of the conversation, so
answers depend on what the model was shown (for example, refuse only under the deployment
framing) rather than on the order in which concurrent samples happen to run. Every output
carries ``usage``, which keeps ``mockllm`` from fetching a tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable

from inspect_ai.model import ChatMessage, Model, ModelOutput, ModelUsage, get_model

Responder = Callable[[list[ChatMessage]], str]


def scripted_output(text: str, stop_reason: str = "stop", model: str = "mockllm/model") -> ModelOutput:
    output = ModelOutput.from_content(model=model, content=text, stop_reason=stop_reason)
    output.usage = ModelUsage(input_tokens=1, output_tokens=max(1, len(text.split())), total_tokens=1 + max(1, len(text.split())))
    return output


def scripted_model(respond: Responder, name: str = "mockllm/model") -> Model:
    """A model whose answer is ``respond(messages)``; a returned ModelOutput is passed through."""

    def generate(messages, tools, tool_choice, config) -> ModelOutput:
        reply = respond(messages)
        return reply if isinstance(reply, ModelOutput) else scripted_output(reply, model=name)

    return get_model(name, custom_outputs=generate)


def conversation_text(messages: list[ChatMessage]) -> str:
    """All message text, for responders that key on the framing or the request."""
    return "\n".join(m.text for m in messages)

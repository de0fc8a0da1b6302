"""A scripted stand-in for the teacher model: fast, deterministic, faithful to the book's facts.

It writes two sentences from the book's own synopsis and a third that takes up the focus it was
asked for, which is what a good teacher does; the synthesis logic around it is what is tested.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from gravity_desktop.llm.engine import CancelToken, Completion, GenerationSettings

# A vocabulary for the name guard synthesis builds for every request.
PIECES = [" The", " novel", " Zeph", "on", " Nora", ".", " is", "eph"]


class FakeTeacher:
    model_info = SimpleNamespace(path=Path("fake-teacher.gguf"))

    def __init__(self, cancel_after: int | None = None) -> None:
        self.calls = 0
        self.cancel_after = cancel_after

    def token_pieces(self) -> list[str]:
        return PIECES

    def chat(self, messages, settings: GenerationSettings, cancel: CancelToken | None = None):
        self.calls += 1
        if self.cancel_after is not None and self.calls > self.cancel_after and cancel:
            cancel.cancel()
            return Completion("", "cancelled", 0, 0.0)
        facts = messages[0]["content"].split("Facts: ", 1)[1]
        words = facts.split()
        ask = messages[-1]["content"]
        focus = ask.split("focusing on ", 1)[1].rstrip(".").split(", rather than")[0]
        focus = re.sub(r"[^a-z ,'-]", "", focus.lower())
        text = (
            f"{settings.assistant_prefix} is set among {' '.join(words[3:11]).rstrip('.,;')}."
            f" It turns on {' '.join(words[20:28]).rstrip('.,;')}."
            f" Above all it gives a reader {focus}."
        )
        return Completion(text, "stop", len(text.split()), 0.01)

    def chat_many(self, take, done, cancel: CancelToken | None = None, slots: int = 8) -> bool:
        """Like `Engine.chat_many` when every reply in writing ends in the same step (the case
        where a unit hears about both its texts before it can ask again): up to `slots`
        requests are taken, then all are finished in order. False once cancelled."""
        while True:
            writing = []
            while len(writing) < slots and (request := take()) is not None:
                writing.append(request)
            if not writing:
                return True
            for key, messages, settings in writing:
                completion = self.chat(messages, settings, cancel)
                if cancel is not None and cancel.cancelled:
                    return False
                done(key, completion)

    def close(self) -> None:
        """Engines are closed after synthesis; the stand-in has nothing to free."""

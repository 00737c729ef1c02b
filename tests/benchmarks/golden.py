"""Golden rendering of a task's first document, shared by the task tests."""

from __future__ import annotations


def assert_first_doc_renders(task, prompt, choices, target) -> None:
    """The first test document renders to ``prompt`` (a string, or a (start, end) pair for long
    prompts), offers ``choices`` (None: not a multiple-choice task) and targets ``target``."""
    doc = next(iter(task.test_docs()))
    text = task.doc_to_text(doc)
    if isinstance(prompt, tuple):
        assert text.startswith(prompt[0]) and text.endswith(prompt[1])
    else:
        assert text == prompt
    if choices is not None:
        assert task.doc_to_choice(doc) == choices
    assert task.doc_to_target(doc) == target

"""``synthesis_quality``: how good an instruction synthesizer's pairs are, on texts it never saw.

The synthesizer (``InstructionSynthesizer``) writes question/answer pairs for the documents of a
tinyworld's evaluation entities (its training data only covers the other entities). Scored:
``pairs_per_document``; ``parsed`` (documents with at least one well-formed pair); ``answerable``
(answers found verbatim in the document: the pair is grounded in its context); ``fact_exact_match``
(of the pairs that ask for one of the entity's attributes in one of the world's question wordings,
those whose answer is the world's fact exactly); ``fact_questions`` (the share of pairs that do).
"""

from __future__ import annotations

from typing import Any

from benchmarks.evaluators import Score, evaluator


@evaluator(version="1", kinds=("causal-lm",))
def synthesis_quality(module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
    """Score a synthesizer's pairs against a tinyworld's facts.

    Task args:
        domain: tinyworld domain of the documents.
        world: ``WorldConfig`` fields.
        n_documents: Documents of evaluation entities to synthesize for (``limit`` lowers it).
        batch_size: Documents per synthesis batch.
    """
    from datamodules.tinyworld import generate_world
    from datamodules.tinyworld.domain import DOMAINS

    world = generate_world(domain=args.get("domain", "general"), **args.get("world", {}))
    attributes = {a.name: a for a in DOMAINS[world.config.domain].attributes}
    entities = {e["name"]: e for e in world.entities if e["split"] == "eval"}
    documents = [d for d in world.documents if d["entity"] in entities]
    n = min(args.get("n_documents", 64), limit or args.get("n_documents", 64), len(documents))
    documents, size = documents[:n], args.get("batch_size", 16)
    synthesized = [pairs for start in range(0, n, size)
                   for pairs in module.synthesize([d["text"] for d in documents[start:start + size]])]
    pairs_total = answerable = fact_questions = fact_correct = 0
    for document, pairs in zip(documents, synthesized):
        entity = entities[document["entity"]]
        # Every wording of every attribute question about this entity, with its gold answer.
        gold = {template.format(name=entity["name"]).casefold(): entity["attributes"][name]
                for name in entity["attributes"] for template in attributes[name].questions}
        for pair in pairs:
            pairs_total += 1
            answerable += pair.answer.casefold() in document["text"].casefold()
            if (expected := gold.get(pair.question.strip().casefold())) is not None:
                fact_questions += 1
                fact_correct += pair.answer.strip() == expected
    share = lambda part, whole: part / whole if whole else 0.0  # noqa: E731
    return [Score("fact_exact_match", share(fact_correct, fact_questions)),
            Score("answerable", share(answerable, pairs_total)),
            Score("pairs_per_document", share(pairs_total, n)),
            Score("parsed", share(sum(bool(pairs) for pairs in synthesized), n)),
            Score("fact_questions", share(fact_questions, pairs_total))]


"""Template pools of the reading-comprehension transform (our own wording, AdaptLLM's task families).

Every template is a ``(question, answer)`` pair of ``str.format`` strings; an example reads
``question.format(**fields) + " " + answer.format(**fields)``. The fields of each pool:

==========================  =====================================================================
pool                        fields
==========================  =====================================================================
``nli_classify``            premise, hypothesis, connector, verdict (Yes/No/Maybe),
                            relation (Entailment/Contradiction/Neutral), link (Therefore/However/Moreover)
``nli_generate_*``          premise, hypothesis, connector
``cause_effect``            cause, effect, connector
``effect_cause``            effect, cause, connector
``similar``, ``different``  sentence1, sentence2, connector
``keywords``                words (three, comma-separated), sentence
``definition``              term, definition, marker, lead (the words before the definition)
``topic``                   subject, topic, marker, lead (the words before the topic)
``summarization``           title, domain
``completion``              first (the document before the cut), rest (after it), domain
==========================  =====================================================================

The RC text starts with the document, so summarization asks about "the text above" instead of
quoting it again; a completion example is the document itself, its first part in the question
and the rest as the answer (the transform prints it in place of the plain document). Pool sizes
follow upstream's order of magnitude (NLI 62, commonsense 55, paraphrase 23, word-to-text 56,
summarization 20, completion 10) so that no single wording dominates the training data.
"""

from __future__ import annotations

import functools
import hashlib
import json

Template = tuple[str, str]

_VERDICT = "{verdict}"
_RELATION = "{relation}"
_LINK = "{link}"

# NLI, classify: one pool for all labels; the answer is the label in one of three verbalisations.
NLI_CLASSIFY: tuple[Template, ...] = (
    ('{premise}\nGiven the sentence above, is it true that "{hypothesis}"? Yes, no or maybe?', _VERDICT),
    ('Read this: {premise}\nDoes it follow that "{hypothesis}"?', _VERDICT),
    ("Statement A: {premise}\nStatement B: {hypothesis}\nIf statement A holds, does statement B hold as well?",
     _VERDICT),
    ("Context: {premise}\nClaim: {hypothesis}\nIs the claim supported by the context? Options: yes, no, maybe.",
     _VERDICT),
    ('Premise: "{premise}"\nHypothesis: "{hypothesis}"\nDoes the premise support the hypothesis?', _VERDICT),
    ('Take the following as true: {premise}\nShould we then accept that "{hypothesis}"?', _VERDICT),
    ('{premise}\nQuestion: can we conclude that "{hypothesis}"?\nAnswer:', _VERDICT),
    ("Here are two sentences.\n1) {premise}\n2) {hypothesis}\nIs the second one a consequence of the first?",
     _VERDICT),
    ("Text: {premise}\nIs the following sentence implied by the text? {hypothesis}", _VERDICT),
    ('"{premise}" Knowing this, would you say that "{hypothesis}" is true?', _VERDICT),
    ("Evaluate the inference.\nFrom: {premise}\nTo: {hypothesis}\nIs the inference valid (yes, no or maybe)?",
     _VERDICT),
    ("First sentence: {premise}\nSecond sentence: {hypothesis}\nDoes the first sentence entail the second?",
     _VERDICT),
    ('{premise}\nBased only on the information above, is "{hypothesis}" correct?', _VERDICT),
    ("Given: {premise}\nInferred: {hypothesis}\nIs this inference justified?", _VERDICT),
    ('Assume "{premise}" Is it then the case that "{hypothesis}"? Reply with yes, no or maybe.', _VERDICT),
    ("Passage: {premise}\nDoes the passage back up this statement: {hypothesis}", _VERDICT),
    (("Decide whether the hypothesis follows from the premise.\nPremise: {premise}\nHypothesis: {hypothesis}\n"
     "Decision:"), _VERDICT),
    ('Is it possible to deduce "{hypothesis}" from "{premise}"?', _VERDICT),
    ("Look at this sentence: {premise}\nNow consider: {hypothesis}\nDoes the first make the second true?",
     _VERDICT),
    ("Fact: {premise}\nStatement: {hypothesis}\nDoes the fact confirm the statement? yes / no / maybe", _VERDICT),
    ("{hypothesis}\nIs the sentence above true, given the following text?\n{premise}", _VERDICT),
    ('Reading: {premise}\nQuestion: does this mean "{hypothesis}"\nAnswer (yes, no or maybe):', _VERDICT),
    ('Someone says: "{premise}" Would they agree that "{hypothesis}"?', _VERDICT),
    ('Sentence one: "{premise}"\nSentence two: "{hypothesis}"\nGiven sentence one, is sentence two true?',
     _VERDICT),
    ("Here is a claim and its basis.\nBasis: {premise}\nClaim: {hypothesis}\nDoes the basis justify the claim?",
     _VERDICT),
    ('We know the following: {premise}\nCan we be sure that "{hypothesis}"?\nYes, no, or maybe?', _VERDICT),
    (("What is the relation between these two sentences: entailment, contradiction or neutral?\n"
     "A: {premise}\nB: {hypothesis}"), _RELATION),
    (("Sentence 1: {premise}\nSentence 2: {hypothesis}\nLabel the pair as entailment, neutral or contradiction.\n"
     "Label:"), _RELATION),
    ('Classify the logical relationship of "{hypothesis}" to "{premise}" (entailment, contradiction, neutral).',
     _RELATION),
    ("Premise: {premise}\nHypothesis: {hypothesis}\nRelationship:", _RELATION),
    (('"{premise}" and "{hypothesis}": how do these statements relate? Choose entailment, contradiction or '
     "neutral."), _RELATION),
    (("Natural language inference.\nPremise: {premise}\nHypothesis: {hypothesis}\n"
     "Which label fits best: entailment, neutral or contradiction?"), _RELATION),
    ("Which word best links these sentences: Therefore, However or Moreover?\n{premise}\n{hypothesis}", _LINK),
    (("Sentence A: {premise}\nSentence B: {hypothesis}\n"
     "What transition word should start sentence B: Therefore, However or Moreover?"), _LINK),
    (("Pick the connector that joins the two sentences correctly.\n1. {premise}\n2. {hypothesis}\n"
     "Choices: Therefore / However / Moreover\nConnector:"), _LINK),
    (("How should the second sentence begin so that it follows the first?\nFirst: {premise}\nSecond: {hypothesis}\n"
     "Options: Therefore, However, Moreover."), _LINK),
    ('Choose a linking word for "{premise}" followed by "{hypothesis}". Therefore, However, or Moreover?', _LINK),
    ("{premise}\n{hypothesis}\nWhich discourse marker (Therefore, However, Moreover) fits between these sentences?",
     _LINK),
)

_HYPOTHESIS = "{hypothesis}"

# NLI, generate: the answer is the hypothesis; one pool per label because the request differs.
NLI_GENERATE_ENTAIL: tuple[Template, ...] = (
    ("Continue the text with a consequence: {premise} {connector},", _HYPOTHESIS),
    ("{premise}\nWhat conclusion can be drawn from this?", _HYPOTHESIS),
    ("Write a sentence that follows logically from this one: {premise}", _HYPOTHESIS),
    ("Given the statement below, what follows from it?\n{premise}", _HYPOTHESIS),
    ("Premise: {premise}\nWrite a hypothesis that the premise entails.\nHypothesis:", _HYPOTHESIS),
    ("{premise} What is a direct consequence of this?", _HYPOTHESIS),
    ("Complete the reasoning: {premise} {connector}, ...", _HYPOTHESIS),
    ("State something that can be inferred from the following sentence.\n{premise}\nInference:", _HYPOTHESIS),
)
NLI_GENERATE_CONTRADICT: tuple[Template, ...] = (
    ("Continue with a contrasting point: {premise} {connector},", _HYPOTHESIS),
    ("Write a sentence that qualifies or contrasts with this one: {premise}", _HYPOTHESIS),
    ("{premise}\nWhat is a counterpoint to the statement above?", _HYPOTHESIS),
    ("Premise: {premise}\nWrite a sentence that stands in contrast to the premise.\nContrast:", _HYPOTHESIS),
    ("Offer a caveat to the following claim.\n{premise}\nCaveat:", _HYPOTHESIS),
    ("{premise}\nWhat limitation or opposing fact comes next?", _HYPOTHESIS),
    ("Here is a statement: {premise}\nGive a sentence that pulls in the opposite direction.", _HYPOTHESIS),
    ('What sentence, introduced by "{connector}", contrasts with the following? {premise}', _HYPOTHESIS),
)
NLI_GENERATE_NEUTRAL: tuple[Template, ...] = (
    ("Continue the text with another point: {premise} {connector},", _HYPOTHESIS),
    ("{premise}\nAdd a further, related fact.", _HYPOTHESIS),
    ("Write a sentence that adds information to this one: {premise}", _HYPOTHESIS),
    (("Premise: {premise}\nWrite a sentence that is related to the premise but neither follows from it nor "
     "contradicts it.\nSentence:"), _HYPOTHESIS),
    ("{premise} What else does the text add?", _HYPOTHESIS),
    ("Extend the description with one more detail.\n{premise}\nDetail:", _HYPOTHESIS),
    ('What additional point, introduced by "{connector}", comes after this sentence? {premise}', _HYPOTHESIS),
    ("Here is a sentence: {premise}\nGive a sentence that builds on it with new information.", _HYPOTHESIS),
)

_EFFECT = "{effect}"
CAUSE_EFFECT: tuple[Template, ...] = (
    ("What is the effect of the following? {cause}", _EFFECT),
    ("Cause: {cause}\nEffect:", _EFFECT),
    ("{cause}\nWhat happens as a result?", _EFFECT),
    ('Q: What results from this: "{cause}"\nA:', _EFFECT),
    ("Given the cause below, describe its consequence.\n{cause}", _EFFECT),
    ("Here is a situation: {cause}\nWhat does it lead to?", _EFFECT),
    ("{cause} {connector}, what follows?", _EFFECT),
    ("Predict the outcome. {cause}\nOutcome:", _EFFECT),
    ("If the following is true, what is a likely result? {cause}", _EFFECT),
    ('What consequence does this have: "{cause}"', _EFFECT),
    ("Reason: {cause}\nResult:", _EFFECT),
    ("Explain what follows from this fact: {cause}", _EFFECT),
    ("Think about this: {cause}\nWhat is the effect?", _EFFECT),
    ("{cause}\nConsequently, what can we expect?", _EFFECT),
    ("Identify the result of the circumstance below.\n{cause}\nResult:", _EFFECT),
    ("Because of this, what happens? {cause}", _EFFECT),
    ("Starting point: {cause}\nWhat comes about because of it?", _EFFECT),
    ("What is the downstream effect of the following statement? {cause}", _EFFECT),
    ("Q: {cause} What is the consequence?\nA:", _EFFECT),
    ("Describe the effect that this cause produces: {cause}", _EFFECT),
    ("Given this premise, what is the most plausible effect?\n{cause}", _EFFECT),
    ("Trace the consequence: {cause}\nConsequence:", _EFFECT),
    ('What would you expect to follow from "{cause}"', _EFFECT),
    ("Here is a cause. Name its effect.\n{cause}", _EFFECT),
    ("Situation: {cause}\nWhat does this imply will happen?", _EFFECT),
    ("Complete with the result: {cause} {connector},", _EFFECT),
    ("Reasoning about causes and effects.\nCause: {cause}\nWhat is the effect?", _EFFECT),
)

_CAUSE = "{cause}"
EFFECT_CAUSE: tuple[Template, ...] = (
    ("What is the cause of the following? {effect}", _CAUSE),
    ("Effect: {effect}\nCause:", _CAUSE),
    ("{effect}\nWhy did this happen?", _CAUSE),
    ('Q: What explains this: "{effect}"\nA:', _CAUSE),
    ("Given the outcome below, describe its cause.\n{effect}", _CAUSE),
    ("Here is an outcome: {effect}\nWhat brought it about?", _CAUSE),
    ("{effect} What is the reason?", _CAUSE),
    ("Find the reason. {effect}\nReason:", _CAUSE),
    ("What could account for the following? {effect}", _CAUSE),
    ("Result: {effect}\nWhat led to it?", _CAUSE),
    ("Explain why this is so: {effect}", _CAUSE),
    ("Think about this: {effect}\nWhat is the cause?", _CAUSE),
    ("Identify the cause of the circumstance below.\n{effect}\nCause:", _CAUSE),
    ("Outcome: {effect}\nWhat was responsible for it?", _CAUSE),
    ("What is the underlying reason for the following statement? {effect}", _CAUSE),
    ("Q: {effect} Why?\nA:", _CAUSE),
    ("Describe the cause behind this effect: {effect}", _CAUSE),
    ("Given this observation, what is the most plausible explanation?\n{effect}", _CAUSE),
    ("Trace the cause: {effect}\nCause:", _CAUSE),
    ('What lies behind "{effect}"', _CAUSE),
    ("Here is an effect. Name its cause.\n{effect}", _CAUSE),
    ("Observation: {effect}\nWhat explains it?", _CAUSE),
    ("{effect}\nThis is {connector} what?", _CAUSE),
    ("Why might the following be true? {effect}", _CAUSE),
    ("Explain the origin of this: {effect}\nExplanation:", _CAUSE),
    ("Reasoning about causes and effects.\nEffect: {effect}\nWhat is the cause?", _CAUSE),
    ("What reason does the text give for this? {effect}", _CAUSE),
    ("Which circumstance explains the following? {effect}", _CAUSE),
)

_SENTENCE2 = "{sentence2}"
SIMILAR: tuple[Template, ...] = (
    ("Rephrase the following sentence: {sentence1}", _SENTENCE2),
    ("Say the same thing in other words: {sentence1}", _SENTENCE2),
    ("{sentence1} {connector}, how else can this be put?", _SENTENCE2),
    ("Write a paraphrase of this sentence.\n{sentence1}\nParaphrase:", _SENTENCE2),
    ("Express the idea below differently while keeping its meaning.\n{sentence1}", _SENTENCE2),
    ("Original: {sentence1}\nRestatement:", _SENTENCE2),
    ('How could you restate "{sentence1}"', _SENTENCE2),
    ("Give a sentence that means roughly the same as: {sentence1}", _SENTENCE2),
    ("Reword this statement: {sentence1}\nReworded:", _SENTENCE2),
    ("Here is a sentence: {sentence1}\nWhat is an equivalent way to say it?", _SENTENCE2),
    ("Clarify the following sentence by restating it: {sentence1}", _SENTENCE2),
    ("Complete the restatement: {sentence1} {connector},", _SENTENCE2),
)
DIFFERENT: tuple[Template, ...] = (
    ("Write a sentence that contrasts with this one: {sentence1}", _SENTENCE2),
    ("Give a sentence whose meaning differs from the following.\n{sentence1}", _SENTENCE2),
    ("{sentence1}\nWhat sentence offers a different view?", _SENTENCE2),
    ("Original: {sentence1}\nContrasting sentence:", _SENTENCE2),
    ('Provide a statement that qualifies "{sentence1}"', _SENTENCE2),
    ("Here is a sentence: {sentence1}\nWrite one that does not say the same thing.", _SENTENCE2),
    ("State something that sets limits on this claim: {sentence1}", _SENTENCE2),
    ("What is a sentence that pushes back against the following? {sentence1}", _SENTENCE2),
    ("Complete the contrast: {sentence1} {connector},", _SENTENCE2),
    ("Produce a sentence with a different, opposing emphasis.\n{sentence1}\nSentence:", _SENTENCE2),
    ('Unlike "{sentence1}", what else does the text state?', _SENTENCE2),
)

_TARGET = "{sentence}"
_WORDS = "{words}"
KEYWORDS: tuple[Template, ...] = (
    ("Write a sentence that uses these words: {words}.", _TARGET),
    ("Keywords: {words}\nSentence:", _TARGET),
    ("Make one sentence out of the following terms: {words}.", _TARGET),
    ("Compose a sentence from the article containing all of these words: {words}.", _TARGET),
    ("Terms: {words}\nWrite a sentence that mentions every term.", _TARGET),
    ("Use the words {words} in a single sentence.", _TARGET),
    ("Which sentence of the article contains the words {words}?", _TARGET),
    ("Here are three key terms: {words}. Put them together in a sentence.", _TARGET),
    ("Generate a sentence about {words}.", _TARGET),
    ("Concepts: {words}\nDescribe how these concepts relate in one sentence.", _TARGET),
    ("Build a sentence around these words: {words}\nSentence:", _TARGET),
    ("Write down a sentence that includes {words}.", _TARGET),
    ("Given the words {words}, recall the sentence from the text that uses them.", _TARGET),
    ("Combine these terms into a sentence: {words}.", _TARGET),
    ("Connect the following words in one statement: {words}.", _TARGET),
    ("Words to use: {words}\nYour sentence:", _TARGET),
    ("Form a sentence containing each of these words: {words}.", _TARGET),
    ("What statement in the text links {words}?", _TARGET),
    ("Create a sentence with the terms {words}.", _TARGET),
    ("Sentence: {sentence}\nWhat are the key terms in this sentence?", _WORDS),
    ("List three important words from this sentence.\n{sentence}", _WORDS),
    ("Extract the technical terms from: {sentence}\nTerms:", _WORDS),
    ("{sentence}\nWhich domain terms does the sentence above use?", _WORDS),
    ("What are the keywords of the following sentence? {sentence}", _WORDS),
    ("Name the specialised vocabulary in this sentence: {sentence}", _WORDS),
)

_DEFINITION = "{definition}"
DEFINITION: tuple[Template, ...] = (
    ("{lead}", _DEFINITION),
    ("What is {term}?", _DEFINITION),
    ("Define {term}.", _DEFINITION),
    ('What does the term "{term}" mean?', _DEFINITION),
    ("Give the definition of {term}.\nDefinition:", _DEFINITION),
    ("Q: How is {term} defined?\nA:", _DEFINITION),
    ("Explain what {term} is.", _DEFINITION),
    ("Term: {term}\nMeaning:", _DEFINITION),
    ("What is meant by {term}?", _DEFINITION),
    ('Provide a short definition for "{term}".', _DEFINITION),
    ("According to the text: {lead} what?", _DEFINITION),
    ("How would you describe {term} in one phrase?", _DEFINITION),
)

_TOPIC = "{topic}"
TOPIC: tuple[Template, ...] = (
    ("{lead}", _TOPIC),
    ('What is "{subject}" about?', _TOPIC),
    ("Q: {lead} what?\nA:", _TOPIC),
    ("Finish the sentence: {lead}", _TOPIC),
    ('What is the topic of "{subject}"?', _TOPIC),
    ("Complete this: {lead} ...", _TOPIC),
    ('Question: what does "{subject}" deal with?\nAnswer:', _TOPIC),
    ("Subject: {subject}\nTopic:", _TOPIC),
    ('Name the topic of "{subject}".', _TOPIC),
    ("{lead}?", _TOPIC),
    ('According to the text, what is "{subject}" concerned with?', _TOPIC),
    ("Answer the question: {lead} what?", _TOPIC),
    ("Fill in the topic: {lead} ___\nTopic:", _TOPIC),
    ('Tell me what "{subject}" covers.', _TOPIC),
    ('What theme does "{subject}" address?', _TOPIC),
    ('Q: What is the focus of "{subject}"?\nA:', _TOPIC),
    ("Recall from the text: {lead}", _TOPIC),
    ('Describe the subject matter of "{subject}".', _TOPIC),
    ('From the text: "{lead} ..." Complete it.', _TOPIC),
)

_TITLE = "{title}"
SUMMARIZATION: tuple[Template, ...] = (
    ("What is a good title for this {domain} text?", _TITLE),
    ("Give the article above a title.\nTitle:", _TITLE),
    ("Suggest a headline for the {domain} article.", _TITLE),
    ("What would be a fitting title for the text?", _TITLE),
    ("Summarize the article above in a few words.", _TITLE),
    ("Title of the {domain} article:", _TITLE),
    ("Q: What is the text above titled?\nA:", _TITLE),
    ("Name this {domain} document.", _TITLE),
    ("Write a short heading for the passage.", _TITLE),
    ("In a handful of words, what is the article about?", _TITLE),
    ("Propose a title that captures the main subject of the text.", _TITLE),
    ("What is the shortest summary of the {domain} text above?", _TITLE),
    ("Which title would you give to this passage?", _TITLE),
    ("Label the article with a title.\nLabel:", _TITLE),
    ("Create a title for the preceding {domain} text.", _TITLE),
    ("What heading best describes the content above?", _TITLE),
    ("If this text were an encyclopedia entry, what would its title be?", _TITLE),
    ("Give a brief summary of the article, as short as a title.", _TITLE),
    ("What is this {domain} article called?", _TITLE),
    ("Headline for the text:", _TITLE),
)

_REST = "{rest}"
# The article's first part is inside the question and its rest is the answer, so the article is printed once.
COMPLETION: tuple[Template, ...] = (
    ("Here is how a {domain} article begins: {first}\n\nHow does it go on?", _REST),
    ("Complete this {domain} article: {first}", _REST),
    ("Opening of the article: {first}\n\nContinue the article.\nContinuation:", _REST),
    ("Read the first part of a {domain} text and write the rest.\n{first}\n\nRest of the text:", _REST),
    ("{first}\n\nWhat comes next in this {domain} article?", _REST),
    ("The following {domain} passage is unfinished: {first}\nFinish it.", _REST),
    ("Start of a document: {first}\n\nQuestion: how does the document continue?\nAnswer:", _REST),
    ("Continue the text below.\n{first}", _REST),
    ("Here is the beginning of an article on {domain}: {first}\n\nWrite the remaining part.", _REST),
    ("{first}\n\nComplete the {domain} article from this point.", _REST),
)

#: Every pool by name (the names the transform's subcategory table refers to).
POOLS: dict[str, tuple[Template, ...]] = {
    "nli_classify": NLI_CLASSIFY,
    "nli_generate_entail": NLI_GENERATE_ENTAIL,
    "nli_generate_contradict": NLI_GENERATE_CONTRADICT,
    "nli_generate_neutral": NLI_GENERATE_NEUTRAL,
    "cause_effect": CAUSE_EFFECT,
    "effect_cause": EFFECT_CAUSE,
    "similar": SIMILAR,
    "different": DIFFERENT,
    "keywords": KEYWORDS,
    "definition": DEFINITION,
    "topic": TOPIC,
    "summarization": SUMMARIZATION,
    "completion": COMPLETION,
}

#: Lines that open each block of same-type examples.
INTROS: tuple[str, ...] = (
    "Answer the questions below about the text above:",
    "Now some questions on the article:",
    "Questions about the passage:",
    "Use the text to respond to these:",
    "Here are a few tasks based on the article:",
    "Test your understanding of the text:",
    "Based on what you just read, answer the following:",
    "Reading comprehension:",
    "Try these questions about the document:",
    "Respond to each of the following using the passage:",
    "Some exercises on the text above:",
    "Answer these, drawing on the article:",
    "Questions and answers about the passage:",
    "Check your reading with these questions:",
    "Work through the following questions:",
    "Let's see what the text says:",
    "Please answer based on the preceding article:",
    "A few questions about what you read:",
)


@functools.cache
def templates_fingerprint() -> str:
    """A short hash of every pool and intro: part of the transform's identity, so editing a template
    invalidates cached RC data without a manual version bump."""
    payload = json.dumps({"pools": POOLS, "intros": INTROS}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]

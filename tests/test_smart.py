"""Smart trackers: embeddings, sentence pieces, training, and tagging combined with keywords."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from analyzer import smart, tuning
from analyzer.cli import cli
from analyzer.combined import CombinedTagger, is_reply
from analyzer.embeddings import load_embedder, native_bf16
from analyzer.errors import TrackerError
from analyzer.records import Utterance
from analyzer.smart import SmartTagger, sentences

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(encoder=smart.encoder_in_force())  # the encoder the trackers read


@pytest.fixture(scope="module")
def smart_tagger(embedder):
    trackers = smart.load()
    assert trackers, "models/smart_trackers.json is missing: run `analyzer train`"
    return SmartTagger(trackers, embedder)


@pytest.fixture(scope="module")
def combined(tagger, smart_tagger):
    return CombinedTagger(tagger, smart_tagger)


def turn(role: str, text: str, start: float = 0.0) -> Utterance:
    return Utterance(role, role, start, start + 3.0, text)


def topics(mentions, index: int = 0) -> set[str]:
    return {m.category for m in mentions if m.utterance_idx == index}


# --- embeddings and sentence pieces ------------------------------------------------------------


def test_vectors_are_unit_length_and_keep_input_order(embedder):
    texts = ["what would this run us per year", "ok", "the team stopped logging in after january"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    assert np.allclose(embedder.embed(texts[::-1])[::-1], vectors, atol=1e-3)


@pytest.mark.skipif(not native_bf16(), reason="this CPU has no native bfloat16")
def test_bf16_vectors_match_fp32():
    texts = ["can you walk me through the dashboard", "we pay for forty seats and twelve use it"]
    cosine = (load_embedder("bf16").embed(texts) * load_embedder("fp32").embed(texts)).sum(axis=1)
    assert cosine.min() > 0.999


def test_sentences_join_lead_ins_and_skip_fillers():
    text = "Yeah. So what would this run us per year? Mm-hmm."
    (piece,) = sentences(7, text)
    assert piece.utterance_idx == 7
    assert piece.text == text  # "Yeah." leads in, "Mm-hmm." trails: both join the sentence
    assert sentences(0, "yeah totally") == []


def test_sentences_split_long_turns_and_keep_offsets():
    text = "We looked at the dashboards last week. " + " ".join(["word"] * 70)
    pieces = sentences(0, text)
    assert pieces[0].text == "We looked at the dashboards last week."
    assert len(pieces) >= 3  # the 70-word stretch is cut into overlapping windows
    assert all(text[p.start_char : p.end_char] == p.text for p in pieces)
    assert all(len(p.text.split()) <= smart.WINDOW_WORDS for p in pieces[1:])


# --- tagging -----------------------------------------------------------------------------------


def test_paraphrases_without_keywords_are_found(combined):
    said = [
        turn("customer", "so what's the damage going to be for about forty people, ballpark?"),
        turn("customer", "honestly half the team hasn't opened it since january"),
        turn("rep", "let me click into the deal board so you can see how that looks"),
    ]
    mentions = combined.tag(said)
    assert "pricing" in topics(mentions, 0)
    assert "churn_signal" in topics(mentions, 1)
    assert "demo" in topics(mentions, 2)
    assert {m.method for m in mentions} == {"semantic"}


def test_a_semantic_mention_points_at_its_sentence(combined):
    text = "Good morning, the weather is lovely today. Honestly what would this run us per year?"
    utterance = Utterance("c", "customer", 10.0, 20.0, text)
    (mention,) = [m for m in combined.tag([utterance]) if m.category == "pricing"]
    assert mention.snippet == "Honestly what would this run us per year?"
    assert mention.start_s > 14.0 and 0.0 < mention.score <= 1.0


def test_customer_only_categories_ignore_the_rep(combined):
    said = [turn("rep", "honestly half the team hasn't opened it since january")]
    assert "churn_signal" not in topics(combined.tag(said))


@pytest.mark.parametrize(
    "text",
    [
        "to be clear we have no plans to cancel, it's just a box I have to tick",
        "random legal question, if we ever did cancel, what happens to our data?",
        "we need to cancel the training session on Wednesday, half the team's out",
    ],
)
def test_negated_hypothetical_and_other_sense_churn_is_not_tagged(combined, text):
    assert "churn_signal" not in topics(combined.tag([turn("customer", text)]))


def test_one_mention_per_category_and_turn(combined):
    text = "what's the price per seat on the annual plan? what would the whole thing cost us?"
    mentions = [m for m in combined.tag([turn("customer", text)]) if m.category == "pricing"]
    assert [m.method for m in mentions] == ["keyword"]


def test_keywords_alone_without_smart_trackers(tagger):
    said = [turn("customer", "so what would this actually run us per year, ballpark?")]
    assert CombinedTagger(tagger).tag(said) == tagger.tag(said)


# --- replies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["yeah, that too", "oh yes, constantly", "exactly", "100%"])
def test_affirmative_replies(text):
    assert is_reply(text)


@pytest.mark.parametrize(
    "text", ["mm-hmm", "no, not really", "okay", "we mostly use spreadsheets for that today"]
)
def test_not_replies(text):
    assert not is_reply(text)


def test_a_reply_takes_the_topic_of_the_question_it_answers(combined):
    said = [
        turn("rep", "Got it. And is the manual CRM data entry a headache for your team too?"),
        turn("customer", "yeah, that too", 3.5),
    ]
    mentions = combined.tag(said)
    assert "pain_point" not in topics(mentions, 0)  # a rep's question is not a pain point
    (reply,) = [m for m in mentions if m.utterance_idx == 1]
    assert reply.category == "pain_point" and reply.tracker.endswith("(reply)")
    assert "headache for your team too?" in reply.snippet
    assert reply.start_s == 3.5


def test_back_channels_and_answers_to_statements_inherit_nothing(combined):
    said = [
        turn("rep", "So our pricing is sixty dollars per seat per month."),
        turn("customer", "yeah, okay", 3.5),
        turn("rep", "Would you want a demo for the wider team next week?", 7),
        turn("customer", "no, not really", 10),
    ]
    assert topics(combined.tag(said), 1) == set() and topics(combined.tag(said), 3) == set()


# --- training ----------------------------------------------------------------------------------


def write_examples(folder, category="security_review", said_by="anyone", suffix=""):
    positives = [
        "before we sign our infosec team needs your soc two report",
        "can you fill out our vendor security questionnaire",
        "legal wants to see the results of your last pen test",
        "do you encrypt the recordings at rest and in transit",
        "our ciso has to sign off on any new vendor that stores customer data",
        "where are your data centers, we need everything to stay in the eu",
        "is there single sign on and can we enforce it for every user",
        "we'll need a data processing agreement before the pilot",
    ]
    negatives = [
        "let's meet on thursday to go over the roadmap",
        "the weather has been great this week",
        "our team grew by ten people this quarter",
        "can you send over the slides from today",
        "we passed our own audit last year, unrelated to this",
        "i'll loop in my manager on the next call",
        "yeah that sounds good to me",
        "how many reps do you have on the team right now",
    ]
    body = {"category": category, "said_by": said_by,
            "positives": [text + suffix for text in positives],
            "negatives": [text + suffix for text in negatives]}  # fmt: skip
    (folder / f"{category}.yaml").write_text(json.dumps(body))  # JSON is YAML


def test_training_sets_threshold_and_quality_by_cross_validation(embedder, tmp_path):
    write_examples(tmp_path)
    (trained,) = smart.train(smart.load_examples(tmp_path), embedder)
    assert 0.1 <= trained.threshold <= 0.95 and trained.cross_validation == "5-fold"
    assert trained.cv_f1 > 0.8 and (trained.positives, trained.negatives) == (8, 8)
    path = tmp_path / "heads.json"
    smart.save([trained], path)
    (loaded,) = smart.load(path)
    assert loaded.summary() == trained.summary()
    vectors = embedder.embed(["send me your soc two report", "see you thursday"])
    assert np.allclose(loaded.probabilities(vectors), trained.probabilities(vectors), atol=1e-2)


def test_a_new_category_needs_only_examples(embedder, tagger, tmp_path):
    write_examples(tmp_path)
    (security,) = smart.train(smart.load_examples(tmp_path), embedder)
    said = [turn("customer", "our security folks will want your soc two report before any pilot")]
    heads = [*smart.load(), security]
    found = CombinedTagger(tagger, SmartTagger(heads, embedder)).tag(said)
    assert "security_review" in topics(found)


def test_ordinary_talk_is_a_negative_for_every_category(tmp_path):
    write_examples(tmp_path)
    talk = [f"ordinary sentence number {n} about the agenda" for n in range(6)]
    (tmp_path / "none.yaml").write_text(json.dumps({"category": "none", "negatives": talk}))
    examples = smart.load_examples(tmp_path)
    texts, labels, _ = smart.training_set("security_review", examples)
    assert set(talk) <= {t for t, label in zip(texts, labels, strict=True) if label == 0}


def test_other_categories_positives_are_negatives_unless_they_overlap():
    def examples(category, writer, overlaps=()):
        return smart.Examples(category, writer, "anyone", (f"{category} yes",),
                              (f"{category} no",), overlaps=overlaps)  # fmt: skip

    everything = [
        examples("pain", "a", ("churn",)),
        examples("churn", "b"),
        examples("pricing", "c"),
    ]
    texts, labels, writers = smart.training_set("pain", everything)
    negatives = {text for text, label in zip(texts, labels, strict=True) if not label}
    assert negatives == {"pain no", "churn no", "pricing no", "pricing yes"}
    assert writers[texts.index("pricing yes")] == "c"


def test_training_across_writers_reports_how_it_was_judged(embedder, tmp_path):
    for writer in ("ann", "bob", "cy"):
        (tmp_path / writer).mkdir()
        write_examples(tmp_path / writer, suffix=f", {writer} said")
    (head,) = smart.train(smart.load_examples(tmp_path), embedder)
    assert head.writers == 3 and head.cross_validation.startswith("leave one writer out")


def test_tuning_the_encoder_pulls_a_topic_apart_and_saves_a_small_adapter(tmp_path):
    (tmp_path / "examples").mkdir()
    write_examples(tmp_path / "examples")
    examples = smart.load_examples(tmp_path / "examples")
    texts, _, labels = tuning.label_matrix(examples)
    positive = labels[:, 0] == 1

    def margin(embedder) -> float:  # mean cosine to own class minus to the other class
        vectors = embedder.embed(texts)
        centre = vectors[positive].mean(axis=0)
        return float((vectors[positive] @ centre).mean() - (vectors[~positive] @ centre).mean())

    folder = tmp_path / "encoder"
    tuning.save(examples, folder)
    tuned = load_embedder(encoder=str(folder))
    assert margin(tuned) > margin(load_embedder()) + 0.01  # four steps on 16 sentences
    assert tuned.encoder == str(folder) and tuned.tuned_on == {"examples"}
    assert sum(f.stat().st_size for f in folder.iterdir()) < 3_000_000  # adapters, not a model
    (head,) = smart.train(examples, tuned)
    assert head.encoder == str(folder) and "(optimistic)" in head.cross_validation
    with pytest.raises(TrackerError, match="retrain them together"):
        SmartTagger([head], load_embedder())


def test_tuned_cross_validation_scores_each_writer_through_an_encoder_tuned_without_them(
    embedder, tmp_path
):
    for writer in ("ann", "bob", "cy"):
        (tmp_path / writer).mkdir()
        write_examples(tmp_path / writer, suffix=f", {writer} said")
    examples = smart.load_examples(tmp_path)
    left_out = []

    def tuned_without(writer):
        left_out.append(writer)
        return embedder

    (head,) = smart.train(examples, embedder, tuned_without)
    assert left_out == ["ann", "bob", "cy"]
    assert head.cross_validation.endswith("encoder tuned without the writer scored")


def test_committed_heads_match_the_examples():
    """models/smart_trackers.json must be retrained (`analyzer train`) when examples change."""
    examples = smart.load_examples(smart.default_examples_dir())
    heads = {head.category: head for head in smart.load()}
    assert set(heads) == {ex.category for ex in examples} - {smart.NONE}
    for category, head in heads.items():
        texts, labels, _ = smart.training_set(category, examples)
        assert (head.positives, head.negatives) == (labels.sum(), len(labels) - labels.sum())


def test_train_command_writes_heads(tmp_path):
    write_examples(tmp_path)
    out = tmp_path / "smart.json"
    result = CliRunner().invoke(cli, ["train", "--examples", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "security_review" in {head.category for head in smart.load(out)}
    assert "security_review" in result.output


def test_bad_examples_file(tmp_path):
    (tmp_path / "x.yaml").write_text("category: x\npositives: [a]\nnegatives: [b]\n")
    with pytest.raises(TrackerError, match="at least 5 positives"):
        smart.load_examples(tmp_path)
    (tmp_path / "x.yaml").write_text("- just a list\n")
    with pytest.raises(TrackerError, match="x.yaml: not an examples file"):
        smart.load_examples(tmp_path)


def test_eval_scores_keyword_semantic_and_combined():
    path = DATA / "labeled_heldout.jsonl"
    result = CliRunner().invoke(cli, ["eval", str(path), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["scores"]
    assert {row["method"] for row in rows} == {"keyword", "semantic", "combined"}

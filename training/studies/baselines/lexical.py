"""Lexical baselines on the release models' splits and metrics.

- paraphrase: TF-IDF cosine of the two sentences (vectorizer fit on the training sentences);
  the decision threshold is the one maximising F1 on the *training* split.
- entailment: multinomial logistic regression on 14 lexical-overlap features (TF-IDF cosine,
  unigram/bigram overlap, IDF-weighted coverage, lengths, negation words); C picked on the
  selection splits (the only thing tuned there).
- ranking: BM25 (rank-bm25's BM25Okapi, English stop words removed); k1 and b picked by MAP on
  the training split; at evaluation the index is the evaluated split's candidate answers.

    python -m training.studies.baselines.lexical [--data-dir ../shared/data] [--out docs/results/lexical.json]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence

import numpy as np
from rank_bm25 import BM25Okapi
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pairscore import tasks
from pairscore.metrics import best_threshold
from pairscore.schema import Pair
from pairscore.specs import resolve_data_dir
from training.baselines import (
    binary_metrics,
    command_line,
    common_args,
    environment,
    evaluate,
    groups_of,
    load_sources,
    markdown_table,
    ranking_metrics,
    task_splits,
    tokenize,
    write_results,
)

NEGATIONS = frozenset(
    {"not", "no", "n't", "never", "nobody", "nothing", "none", "nowhere", "neither", "nor", "cannot", "without"}
)


def _vectorizer(texts: Sequence[str]):
    vec = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, sublinear_tf=True, min_df=1)
    vec.fit(sorted(set(texts)))
    return vec


def _cosine(vec, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    xa, xb = vec.transform(a), vec.transform(b)  # rows are L2-normalised
    return np.asarray(xa.multiply(xb).sum(axis=1)).ravel()


# ---------------------------------------------------------------------------- paraphrase


def run_paraphrase(splits, data_dir) -> dict:
    train = load_sources(data_dir, "paraphrase", splits.train)
    t0 = time.perf_counter()
    vec = _vectorizer([p.text_a for p in train] + [p.text_b for p in train])
    s_train = _cosine(vec, [p.text_a for p in train], [p.text_b for p in train])
    thr = best_threshold([p.label for p in train], s_train)
    train_s = time.perf_counter() - t0
    metrics = {"train": binary_metrics([p.label for p in train], s_train, thr)}
    for spec in splits.measured:
        pairs = load_sources(data_dir, "paraphrase", [spec])
        metrics[spec] = evaluate(
            "paraphrase", pairs, _cosine(vec, [p.text_a for p in pairs], [p.text_b for p in pairs]), thr
        )
    return {
        "method": (
            "TF-IDF cosine (sublinear tf, fit on training sentences), threshold maximising F1 on the training split"
        ),
        "threshold": thr,
        "vocab_size": len(vec.vocabulary_),
        "head_params": 1,
        "train_rows": len(train),
        "train_seconds": train_s,
        "train_examples_per_s": len(train) / train_s,
        "metrics": metrics,
    }


# ---------------------------------------------------------------------------- entailment

FEATURES = (
    "tfidf_cosine",
    "h_unigram_in_p",
    "p_unigram_in_h",
    "jaccard",
    "h_bigram_in_p",
    "h_idf_coverage",
    "len_p",
    "len_h",
    "log_len_ratio",
    "h_new_words",
    "neg_h",
    "neg_p",
    "neg_h_minus_p",
    "same_first_noun_phrase",
)


def _bigrams(toks):
    return set(zip(toks, toks[1:]))


def entailment_features(pairs: Sequence[Pair], vec) -> np.ndarray:
    cos = _cosine(vec, [p.text_a for p in pairs], [p.text_b for p in pairs])
    idf = dict(zip(vec.get_feature_names_out(), vec.idf_))
    max_idf = float(np.max(vec.idf_))
    rows = []
    for p, c in zip(pairs, cos):
        tp, th = tokenize(p.text_a), tokenize(p.text_b)
        sp, sh = set(tp), set(th)
        inter = sp & sh
        bh = _bigrams(th)
        w_h = sum(idf.get(t, max_idf) for t in sh)
        w_cov = sum(idf.get(t, max_idf) for t in inter)
        neg_h = sum(t in NEGATIONS for t in th)
        neg_p = sum(t in NEGATIONS for t in tp)
        rows.append(
            [
                c,
                len(inter) / max(len(sh), 1),
                len(inter) / max(len(sp), 1),
                len(inter) / max(len(sp | sh), 1),
                len(bh & _bigrams(tp)) / max(len(bh), 1),
                w_cov / w_h if w_h else 0.0,
                len(tp),
                len(th),
                math.log((len(th) + 1) / (len(tp) + 1)),
                len(sh - sp),
                neg_h,
                neg_p,
                neg_h - neg_p,
                float(th[:3] == tp[:3]),
            ]
        )
    return np.asarray(rows, dtype=np.float64)


def run_entailment(splits, data_dir, c_grid=(0.01, 0.1, 1.0, 10.0)) -> dict:
    train = load_sources(data_dir, "entailment", splits.train)
    select = load_sources(data_dir, "entailment", splits.select)
    t0 = time.perf_counter()
    vec = _vectorizer([p.text_a for p in train] + [p.text_b for p in train])
    x_train = entailment_features(train, vec)
    y_train = np.asarray([p.label for p in train])
    x_sel = entailment_features(select, vec)
    tried, best = {}, None
    for c in c_grid:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        clf.fit(x_train, y_train)
        acc = evaluate("entailment", select, clf.predict_proba(x_sel))["accuracy"]
        tried[str(c)] = acc
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    train_s = time.perf_counter() - t0
    _, c_best, clf = best
    metrics = {"train": evaluate("entailment", train, clf.predict_proba(x_train))}
    for spec in splits.measured:
        pairs = load_sources(data_dir, "entailment", [spec])
        metrics[spec] = evaluate("entailment", pairs, clf.predict_proba(entailment_features(pairs, vec)))
    lr = clf[-1]
    return {
        "method": (
            "multinomial logistic regression (standardised) on lexical-overlap features; "
            "C picked on the selection split"
        ),
        "features": list(FEATURES),
        "C": c_best,
        "selection_accuracy_by_C": tried,
        "head_params": int(lr.coef_.size + lr.intercept_.size),
        "train_rows": len(train),
        "train_seconds": train_s,
        "train_examples_per_s": len(train) * len(c_grid) / train_s,
        "train_examples_per_s_note": (
            "rows x C values tried / seconds (feature extraction of train + selection split included)"
        ),
        "metrics": metrics,
    }


# ---------------------------------------------------------------------------- ranking


def _bm25_tokens(text: str) -> list[str]:
    return [t for t in tokenize(text) if t not in ENGLISH_STOP_WORDS]


def bm25_scores(pairs: Sequence[Pair], k1: float, b: float) -> np.ndarray:
    """BM25 of each candidate for its question; the index is this split's distinct candidates."""
    docs = sorted({p.text_b for p in pairs})
    doc_id = {d: i for i, d in enumerate(docs)}
    bm25 = BM25Okapi([_bm25_tokens(d) for d in docs], k1=k1, b=b)
    out = np.zeros(len(pairs))
    for g in groups_of(pairs):
        query = _bm25_tokens(pairs[g[0]].text_a)
        out[g] = bm25.get_batch_scores(query, [doc_id[pairs[i].text_b] for i in g])
    return out


def run_ranking(splits, data_dir, k1_grid=(0.6, 0.9, 1.2, 1.5, 2.0), b_grid=(0.3, 0.5, 0.75, 0.9)) -> dict:
    train = load_sources(data_dir, "ranking", splits.train)
    t0 = time.perf_counter()
    tried, best = {}, None
    for k1 in k1_grid:
        for b in b_grid:
            m = ranking_metrics(train, bm25_scores(train, k1, b))["map"]
            tried[f"k1={k1},b={b}"] = m
            if best is None or m > best[0]:
                best = (m, k1, b)
    train_s = time.perf_counter() - t0
    _, k1, b = best
    metrics = {"train": ranking_metrics(train, bm25_scores(train, k1, b))}
    for spec in splits.measured:
        pairs = load_sources(data_dir, "ranking", [spec])
        metrics[spec] = evaluate("ranking", pairs, bm25_scores(pairs, k1, b))
    return {
        "method": "BM25Okapi (rank-bm25), stop words removed; k1, b picked by MAP on the training split; "
        "index = the evaluated split's candidate answers",
        "k1": k1,
        "b": b,
        "train_map_by_params": tried,
        "head_params": 2,
        "train_rows": len(train),
        "train_seconds": train_s,
        "train_examples_per_s": len(train) * len(tried) / train_s,
        "train_examples_per_s_note": "rows x (k1, b) settings tried / seconds",
        "metrics": metrics,
    }


RUNNERS = {"entailment": run_entailment, "paraphrase": run_paraphrase, "ranking": run_ranking}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(parser, "lexical")
    args = parser.parse_args(argv)
    results = {
        "model": "lexical",
        "command": command_line(argv, "training.studies.baselines.lexical"),
        "data_dir": str(resolve_data_dir(args.data_dir).resolve()),
        "environment": environment(),
        "tasks": {},
    }
    t_all = time.perf_counter()
    for task in args.tasks:
        splits = task_splits(task, args.recipes)
        r = RUNNERS[task](splits, args.data_dir)
        r["select_splits"] = list(splits.select)
        r["select_metric"] = tasks.TASKS[task].metric
        r["train_sources"] = list(splits.train)
        results["tasks"][task] = r
    results["total_seconds"] = time.perf_counter() - t_all
    table = markdown_table(results)
    results["table_markdown"] = table
    out = write_results(results, args.out)
    print(table)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the student is asked to match: the teacher's vectors, and the teacher's sense of which texts are alike.

The vector loss pulls each student vector (through a projection) towards the teacher's. It reaches cosine
0.75-0.8 and stops, and what ranking and STS use is not the direction of one vector but the order of the
similarities between vectors. The relational losses (Park et al. 2019; Tian et al. 2020) match that directly,
on the served vectors themselves (no projection): within a batch, the student's matrix of cosine similarities
against the teacher's, as squared differences (`mse`) or as each row's softmax distribution at a temperature
(`kl`, the teacher's row as the target): a contrastive view that weights a text's nearest neighbours most.

Graded pairs (STS) say the order of similarities directly, from people rather than the teacher: CoSENT (Su
2022, sentence-transformers' CoSENTLoss) penalises every two pairs whose cosines are in the wrong order.
"""

from __future__ import annotations

import torch
from sentence_transformers.sentence_transformer.losses import CoSENTLoss
from torch.nn import functional as F
from torchmetrics.functional import spearman_corrcoef


def vector_loss(predicted: torch.Tensor, target: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, mean cosine) of projected student vectors against the teacher's (unit length): 1 - cosine, MSE scaled by
    the dimension (so both are of the same order), or both."""
    cosine = F.cosine_similarity(predicted, target, dim=-1).mean()
    mse = F.mse_loss(predicted, target) * target.shape[-1]
    return {"cosine": 1 - cosine, "mse": mse, "cosine+mse": 1 - cosine + mse}[kind], cosine


def similarities(vectors: torch.Tensor) -> torch.Tensor:
    """Cosine similarity matrix [n, n]."""
    unit = F.normalize(vectors, dim=-1)
    return unit @ unit.T


def relational_loss(student: torch.Tensor, teacher: torch.Tensor, kind: str, temperature: float) -> torch.Tensor:
    """How far the student's in-batch similarities are from the teacher's, off the diagonal (a text and itself)."""
    n = student.shape[0]
    if n < 2:
        return student.sum() * 0.0
    s, t = similarities(student), similarities(teacher)
    off = ~torch.eye(n, dtype=torch.bool, device=student.device)
    if kind == "mse":
        return F.mse_loss(s[off], t[off])
    rows_s, rows_t = s[off].view(n, n - 1), t[off].view(n, n - 1)  # each text against the others
    log_p = F.log_softmax(rows_s / temperature, dim=-1)
    return F.kl_div(log_p, F.softmax(rows_t / temperature, dim=-1), reduction="batchmean")


def similarity_agreement(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Spearman correlation of the student's and the teacher's in-batch similarities: the order ranking needs."""
    n = student.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=student.device)
    return spearman_corrcoef(similarities(student)[off].float(), similarities(teacher)[off].float())


def graded_loss(u: torch.Tensor, v: torch.Tensor, scores: torch.Tensor, scale: float) -> torch.Tensor:
    """CoSENT over a batch of graded pairs: cos(u_i, v_i) should order the pairs as their scores do."""
    return CoSENTLoss(model=None, scale=scale).compute_loss_from_embeddings([u, v], scores.float())

"""The ranking loss and the clean-question mask; the heads' shapes."""

import pytest

torch = pytest.importorskip("torch")

from training.heads import PairHead, ServingHead  # noqa: E402
from training.objectives import clean_groups, listwise_loss  # noqa: E402


def test_listwise_loss_is_the_softmax_cross_entropy_per_question():
    scores = torch.tensor([2.0, 0.5, -1.0, 0.3, 0.1, 1.0])
    labels = torch.tensor([1, 0, 1, 0, 1, 0])
    groups = torch.tensor([7, 7, 7, 9, 9, 4])  # question 4 has no correct answer: left out
    first = -(0.5 * torch.log_softmax(scores[:3], 0)[0] + 0.5 * torch.log_softmax(scores[:3], 0)[2])
    second = -torch.log_softmax(scores[3:5], 0)[1]
    assert torch.allclose(listwise_loss(scores, labels, groups), (first + second) / 2)


def test_listwise_loss_moves_correct_answers_up():
    scores = torch.zeros(4, requires_grad=True)
    listwise_loss(scores, torch.tensor([0, 1, 0, 0]), torch.tensor([1, 1, 1, 1])).backward()
    assert scores.grad[1] < 0 < scores.grad[0]


def test_clean_groups_need_a_correct_and_a_wrong_answer():
    mask = clean_groups(torch.tensor([1, 0, 1, 1, 0, 0]), torch.tensor([1, 1, 2, 2, 3, 3]))
    assert mask.tolist() == [True, True, False, False, False, False]


@pytest.mark.parametrize("task,shape", [("entailment", (5, 3)), ("paraphrase", (5,)), ("ranking", (5,))])
def test_heads(task, shape):
    head = PairHead(task, 8).eval()
    u, v = torch.randn(5, 8), torch.randn(5, 8)
    out = ServingHead(head)(u, v)
    assert out.shape == shape
    if task == "entailment":
        assert torch.allclose(out.sum(-1), torch.ones(5))
    if task == "paraphrase":
        assert ((out > 0) & (out < 1)).all()

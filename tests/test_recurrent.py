"""Recurrent models: agreement with torch.nn.LSTM/GRU, padding invariance, read-outs, seed sizes."""

import pytest
import torch
from torch import nn

from corenets.errors import ConfigError, DataError
from corenets.models import count_parameters, create_model


@pytest.mark.parametrize("cell,ref_cls", [("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_equals_torch_reference(cell, ref_cls, bidirectional):
    torch.manual_seed(0)
    model = create_model(cell, (7, 5), 3, hidden_size=6, layers=2, bidirectional=bidirectional).eval()
    ref = ref_cls(5, 6, num_layers=2, batch_first=True, bidirectional=bidirectional)
    ref.load_state_dict(model.rnn.state_dict())
    x = torch.randn(4, 7, 5)
    out, h = ref(x)
    h = h[0] if isinstance(h, tuple) else h
    d = 2 if bidirectional else 1
    feats = torch.cat([h[-d + i] for i in range(d)], dim=1)  # (B, D*H)
    # the last read-out equals the reference's final states; the forward half also equals out[:, -1]
    torch.testing.assert_close(feats[:, :6], out[:, -1, :6])
    expected = model.head(feats)
    torch.testing.assert_close(model(x), expected)


def test_images_are_read_as_rows():
    torch.manual_seed(0)
    img = create_model("gru", (1, 28, 28), 10, hidden_size=8).eval()
    seq = create_model("gru", (28, 28), 10, hidden_size=8).eval()
    seq.load_state_dict(img.state_dict())
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(img(x), seq(x[:, 0]))


@pytest.mark.parametrize("readout", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_invariance(readout, bidirectional):
    torch.manual_seed(0)
    model = create_model("lstm", (12,), 1, hidden_size=8, vocab_size=50, embed_dim=6,
                         readout=readout, bidirectional=bidirectional, layers=2).eval()
    sent = torch.tensor([5, 9, 3, 17])
    right = torch.zeros(1, 12, dtype=torch.long)
    right[0, :4] = sent
    left = torch.zeros(1, 12, dtype=torch.long)
    left[0, -4:] = sent
    short = sent[None]  # no padding at all
    other = torch.zeros(1, 12, dtype=torch.long)
    other[0, :7] = torch.tensor([1, 2, 3, 4, 5, 6, 7])
    a = model(torch.cat([right, other]))[0]
    torch.testing.assert_close(a, model(left)[0])
    torch.testing.assert_close(a, model(short)[0])
    # padding is not read: the state after the last real token equals a manual unpadded run
    x = model.embed(short)
    out, (h, _) = model.rnn(x)
    if readout == "last":
        d = 2 if bidirectional else 1
        torch.testing.assert_close(a, model.head(torch.cat([h[-d + i] for i in range(d)], 1))[0])
    elif readout == "mean":
        torch.testing.assert_close(a, model.head(out.mean(1))[0])
    else:
        torch.testing.assert_close(a, model.head(out.amax(1))[0])


def test_seed_sizes():
    sst = create_model("lstm", (64,), 1, hidden_size=64, vocab_size=10000, embed_dim=128)
    # Keras: 1,280,000 + 49,408 + 65; torch keeps two bias vectors per gate (+256)
    assert count_parameters(sst) == 1_280_000 + 49_408 + 256 + 65
    stock = create_model("lstm", (60, 1), 1, hidden_size=50, layers=2, head=[25], head_activation="none")
    # Keras: 10,400 + 20,200 + 1,275 + 26 = 31,901; torch's second bias adds 200 per layer
    assert count_parameters(stock) == 31_901 + 400


def test_embed_init_is_keras_uniform_with_a_zero_pad_row():
    torch.manual_seed(0)
    default = create_model("lstm", (8,), 1, vocab_size=500, embed_dim=32).embed.weight
    small = create_model("lstm", (8,), 1, vocab_size=500, embed_dim=32, embed_init=0.05).embed.weight
    assert default[1:].std() > 0.9  # torch's N(0, 1)
    assert small[1:].abs().max() <= 0.05 and small[1:].std() > 0.025  # uniform(-0.05, 0.05): std 0.0289
    assert not small[0].any() and not default[0].any()  # the pad row stays zero either way
    with pytest.raises(ConfigError, match="embed_init"):
        create_model("lstm", (8,), 1, vocab_size=500, embed_init=-1.0)


def test_bad_inputs():
    model = create_model("lstm", (10, 3), 2, hidden_size=4)
    with pytest.raises(DataError, match="integer inputs.*facts=bundle.facts"):
        model(torch.zeros(2, 10, dtype=torch.long))
    text = create_model("gru", (10,), 1, hidden_size=4, vocab_size=20)
    with pytest.raises(DataError, match="outside the embedding"):
        text(torch.full((1, 10), 25))
    with pytest.raises(ConfigError, match="token-id inputs"):
        create_model("gru", (10, 3), 1, vocab_size=20)
    with pytest.raises(ConfigError, match="dropout"):
        create_model("rnn", (10, 3), 1, dropout=1.5)
    with pytest.raises(ConfigError, match="readout"):
        create_model("rnn", (10, 3), 1, readout="first")


def test_learns_a_sequence_task():
    """Which of two markers came first: needs memory across steps, trains in a second."""
    g = torch.Generator().manual_seed(0)
    n, t = 512, 10
    x = torch.zeros(n, t, 2)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(0, t - 1, (n,), generator=g)
    x[torch.arange(n), pos, y] = 1.0  # the class channel lights up early; noise after
    x += 0.1 * torch.randn(n, t, 2, generator=g)
    torch.manual_seed(0)
    model = create_model("gru", (t, 2), 2, hidden_size=16)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.95


def test_input_dropout_drops_inputs_in_training_only():
    torch.manual_seed(0)
    text = create_model("gru", (10,), 1, hidden_size=4, vocab_size=20, embed_dim=6, input_dropout=0.5)
    ids = torch.randint(1, 20, (64, 10))
    seen = []
    text.rnn.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    text.train()(ids)
    zeros = (seen[-1].data == 0).float().mean().item()  # packed: .data holds the real steps
    assert 0.4 < zeros < 0.6  # about half of the embedded values dropped
    text.eval()
    torch.testing.assert_close(text(ids), text(ids))  # no dropout at evaluation
    assert (seen[-1].data == 0).float().mean().item() < 0.01
    rows = create_model("lstm", (5, 3), 2, hidden_size=4, input_dropout=0.3)
    rows.rnn.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    rows.train()(torch.ones(8, 5, 3))
    values = seen[-1].unique()
    assert len(values) == 2 and values[0] == 0 and values[1] == pytest.approx(1 / 0.7)  # float inputs: dropped or rescaled
    with pytest.raises(ConfigError, match="input_dropout"):
        create_model("lstm", (5, 3), 2, input_dropout=1.0)


def test_subwords_read_a_word_as_the_mean_of_its_vector_and_its_ngrams_and_unknown_words_by_their_pieces():
    from corenets.data.text import TextPreprocessing, build_vocab

    torch.manual_seed(0)
    vocab = build_vocab(["a good film", "a bad film"])
    pre = TextPreprocessing(vocab=vocab, max_len=6, subwords=500, slots=12, ngrams=[3, 5])
    model = create_model("gru", (6, 13), 1, hidden_size=4, vocab_size=len(vocab), embed_dim=5, subwords=500,
                         embed_init=0.05).eval()
    x = pre.transform(["a goodish film", "a badish film", "a good film"])
    assert x.shape == (3, 6, 13) and x[0, 1, 0] == x[1, 1, 0] == 1  # both unknown words are <unk> as words
    with torch.no_grad():
        e = model.embed_tokens(x)
        g = x[2, 1, 1:][x[2, 1, 1:] != 0]
        manual = (model.embed.weight[x[2, 1, 0]] + model.grams.weight[g].sum(0)) / (1 + len(g))
        torch.testing.assert_close(e[2, 1], manual)
        assert not e[:, 3:].any()  # padding reads zero vectors
        out = model(x)
    assert (e[0, 1] - e[1, 1]).abs().max() > 1e-2 and out[0] != out[1]  # yet read apart by n-grams ("goo", "bad")
    plain = create_model("gru", (6,), 1, hidden_size=4, vocab_size=len(vocab), embed_dim=5).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(x[:1, :, 0]), plain(x[1:2, :, 0]))  # without them, the same sentence
    left = torch.zeros(1, 6, 13, dtype=torch.long)
    left[0, 3:] = x[2, :3]
    with torch.no_grad():  # padding on the other side reads the same
        torch.testing.assert_close(model(left), out[2:])
    model.train()
    model(x).sum().backward()
    assert model.grams.weight.grad[g].abs().sum() > 0 and not model.grams.weight.grad[0].any()
    with pytest.raises(ConfigError, match="facts=bundle.facts"):  # the data carries n-grams, the model is not told
        create_model("gru", (6, 13), 1, vocab_size=len(vocab))
    with pytest.raises(ConfigError, match="token inputs"):
        create_model("gru", (6, 3), 1, subwords=10)
    with pytest.raises(DataError, match="n-gram bucket 500.*subwords=100"):
        create_model("gru", (6, 13), 1, vocab_size=len(vocab), subwords=100).eval()(
            torch.nn.functional.pad(x[..., :1], (0, 12), value=0).index_fill(2, torch.tensor([1]), 500)
            * (x[..., :1] != 0))

"""corenets.scratch: a small autograd engine and neural-network library in NumPy only.

It reads like the textbook and matches PyTorch to 1e-6 (tests/scratch check
every op, layer and optimiser against torch.autograd). It imports only NumPy
and the standard library.

    from corenets.scratch import Tensor, nn, losses, optim
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = losses.cross_entropy(model(Tensor(x)), y)
    loss.backward()
"""

from . import functional, losses, nn, optim  # noqa: F401
from .engine import ShapeError, Tensor, as_tensor, concat, no_grad, stack  # noqa: F401
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401
from .train import History, fit  # noqa: F401

import pytest

from corenets.errors import ConfigError
from corenets.registry import Registry


def test_register_and_get():
    reg = Registry("widget")

    @reg.register()
    def alpha(x: int = 1):
        """First widget."""
        return x

    @reg.register("beta-2")
    def beta():
        return 2

    assert reg.get("alpha") is alpha
    assert reg.names() == ["alpha", "beta-2"]
    assert "alpha" in reg and "gamma" not in reg
    assert reg.describe("alpha") == "First widget."
    assert list(reg.options("alpha")) == ["x"]


def test_duplicate_name_is_an_error():
    reg = Registry("widget")
    reg.register("a")(lambda: 1)
    with pytest.raises(ConfigError, match="registered twice"):
        reg.register("a")(lambda: 2)


def test_unknown_name_lists_sorted_choices():
    reg = Registry("model")
    for n in ("mlp", "cnn_bn", "lstm"):
        reg.register(n)(lambda: None)
    with pytest.raises(ConfigError) as e:
        reg.get("lstn")
    assert str(e.value) == "unknown model 'lstn'; did you mean 'lstm'? choose one of: cnn_bn, lstm, mlp"

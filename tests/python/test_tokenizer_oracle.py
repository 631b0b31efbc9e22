"""Oracle test for the tokenizer: `cyllm tokenize` on the default SmolLM2 model against HF
`tokenizers`, built independently from the same GGUF file's vocab and merges (read with the
`gguf` package) the way transformers converts a GGUF tokenizer: byte-level BPE, pre-tokenizer
Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)],
ByteLevel decoder, and the control tokens as special AddedTokens.

Fixed texts (English, Chinese, code, emoji, digits, whitespace) and a Hypothesis property over
generated strings. Many strings go through one cyllm process with `--lines --escapes`."""
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st

from conftest import run_cyllm

gguf = pytest.importorskip("gguf")
tokenizers = pytest.importorskip("tokenizers")

TOKEN_TYPE_CONTROL = 3

# Keep Hypothesis' cache out of the source tree (CTest runs this file from tests/python).
configuration.set_hypothesis_home_dir(
    os.path.join(os.environ.get("CYLLM_BUILD_DIR") or tempfile.gettempdir(), ".hypothesis")
)


@pytest.fixture(scope="module")
def hf_tokenizer(default_model: Path):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    reader = gguf.GGUFReader(str(default_model))

    def field(name):
        f = reader.fields[name]
        return f

    def strings(name):
        f = field(name)
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    def ints(name):
        f = field(name)
        return [int(f.parts[i][0]) for i in f.data]

    assert bytes(field("tokenizer.ggml.model").parts[-1]).decode() == "gpt2"
    tokens = strings("tokenizer.ggml.tokens")
    types = ints("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    unk_id = int(field("tokenizer.ggml.unknown_token_id").parts[-1][0])

    vocab = {t: i for i, t in enumerate(tokens)}
    bpe = models.BPE(vocab=vocab, merges=merges, unk_token=tokens[unk_id], fuse_unk=False, byte_fallback=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == TOKEN_TYPE_CONTROL]
    )
    # The oracle itself must reproduce known ids before it may judge anything.
    assert tok.encode("The capital of France is").ids == [504, 3575, 282, 4649, 314]
    assert tok.encode("Hello world! 123").ids == [19556, 905, 17, 216, 33, 34, 35]
    return tok


def escape_line(s: str) -> bytes:
    return s.encode("utf-8").replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


def cyllm_ids(cyllm_bin: str, model: Path, texts: list[str], *extra: str) -> list[list[int]]:
    data = b"".join(escape_line(t) + b"\n" for t in texts)
    proc = run_cyllm(cyllm_bin, "tokenize", "-m", str(model), "--lines", "--escapes", *extra, "-f", "-", input=data)
    lines = proc.stdout.decode().split("\n")
    assert lines[-1] == "", "output must end with a newline"
    lines = lines[:-1]
    assert len(lines) == len(texts), f"{len(texts)} inputs gave {len(lines)} output lines"
    return [[int(x) for x in line.split()] for line in lines]


def compare(cyllm_bin, model, hf, texts, *extra, hf_special=True):
    ours = cyllm_ids(cyllm_bin, model, texts, *extra)
    theirs = [e.ids for e in hf.encode_batch(texts, add_special_tokens=hf_special)]
    mismatches = [(t, o, h) for t, o, h in zip(texts, ours, theirs) if o != h]
    assert not mismatches, "first mismatches (text, cyllm, hf):\n" + "\n".join(repr(m) for m in mismatches[:5])


FIXED_TEXTS = [
    "The capital of France is",
    "Hello world! 123",
    "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～",
    "北京是中华人民共和国的首都，也是全国的政治、文化中心。",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < 10; ++i) { sum += a[i] * 3.14159; }",
    "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 👩‍👩‍👧‍👦 🇫🇷",
    "3333333 1,000,000.00 ½ ² Ⅻ ٣٤٥ 𝟙𝟚𝟛",
    "   leading spaces",
    "trailing spaces   ",
    "\n\n\n\t\t  \r\n  \u00a0\u3000 x  \t y",
    "a\u2028b\u0085c\u200bd",
    "I'm, you're, they've, she'll, he'd, it's, 'S 'LL",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
    "<|im_start<|im_end|>|> <repo_name><reponame><file_sep>",
    "Ünïcödé çãfé naïve résumé Ελληνικά русский עברית العربية हिन्दी",
    "",
    " ",
    "\x04\x06\x13 control bytes",
]


def test_fixed_texts_match_hf(cyllm_bin, default_model, hf_tokenizer):
    compare(cyllm_bin, default_model, hf_tokenizer, FIXED_TEXTS)


def test_fixed_texts_no_special_match_hf_plain(cyllm_bin, default_model, hf_tokenizer):
    # With --no-special, special-token text is plain text: HF gives the same ids when the
    # special tokens are not split out, which we emulate by checking the ids contain no control
    # token and decode back to the text.
    texts = ["<|im_start|>user\nHi<|im_end|>", "<|endoftext|>"]
    ours = cyllm_ids(cyllm_bin, default_model, texts, "--no-special")
    for text, ids in zip(texts, ours):
        assert all(i > 16 for i in ids), ids  # ids 0..16 are the control tokens
        assert hf_tokenizer.decode(ids, skip_special_tokens=False) == text


INTERESTING = [
    " ", "  ", "\n", "\t", "\r\n", "\u00a0", "\u3000", "'s", "'", "'ll", "0", "12", "345", "中文", "字",
    "😀", "🦙", "👩‍💻", "é", "ß", "Ω", "ﬁ", "!", "?!", "...", "<", ">", "|", "<|im_end|>", "<|im_start|>",
    "the", " The", "HELLO", "x", "_", "-", "{", "}", "()", "\\", "\\n", "#", "::", "->", "½", "٣",
]

text_strategy = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x3000), max_size=40),
    st.lists(st.sampled_from(INTERESTING), max_size=25).map("".join),
    st.text(alphabet=" \t\n\r0123456789ab'", max_size=30),
)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(text_strategy, min_size=1, max_size=120))
def test_property_matches_hf(cyllm_bin, default_model, hf_tokenizer, batch):
    compare(cyllm_bin, default_model, hf_tokenizer, batch)


def test_vocab_only_file_and_bos(cyllm_bin, shared_dir):
    vocab = shared_dir / "data" / "vocab" / "ggml-vocab-llama-spm.gguf"
    if not vocab.exists():
        pytest.skip(f"{vocab} not found")
    # add_bos_token is true in this file's metadata: BOS (1) comes first by default.
    out = run_cyllm(cyllm_bin, "tokenize", "-m", str(vocab), "Hello world").stdout
    assert out == b"1 15043 3186\n"
    out = run_cyllm(cyllm_bin, "tokenize", "-m", str(vocab), "--no-bos", "Hello world").stdout
    assert out == b"15043 3186\n"


def test_bos_flag(cyllm_bin, default_model):
    assert run_cyllm(cyllm_bin, "tokenize", "-m", str(default_model), "--bos", "Hi").stdout.split()[0] == b"1"


def test_cli_errors(cyllm_bin, default_model, tmp_path):
    assert run_cyllm(cyllm_bin, "tokenize", "Hello", check=False).returncode == 2  # no -m
    assert run_cyllm(cyllm_bin, "tokenize", "-m", str(default_model), check=False).returncode == 2  # no text
    assert run_cyllm(cyllm_bin, "tokenize", "-m", str(default_model), "--bogus", "x", check=False).returncode == 2
    missing = run_cyllm(cyllm_bin, "tokenize", "-m", str(tmp_path / "missing.gguf"), "x", check=False)
    assert missing.returncode == 1 and missing.stderr and not missing.stdout
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    assert run_cyllm(cyllm_bin, "tokenize", "-m", str(junk), "x", check=False).returncode == 1
    help_ = run_cyllm(cyllm_bin, "tokenize", "--help")
    assert b"--lines" in help_.stdout

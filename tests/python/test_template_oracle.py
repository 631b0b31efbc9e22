"""Oracle test for chat templates: `cyllm template` against Python jinja2 configured exactly as
transformers' apply_chat_template configures it (transformers.utils.chat_template_utils.
_compile_jinja_template): ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[jinja2.ext.loopcontrols]), globals raise_exception and strftime_now, and `tojson`
replaced by json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
sort_keys=sort_keys). Render arguments as apply_chat_template passes them: messages, tools (None
when absent), documents=None, add_generation_prompt, bos_token/eos_token and extra kwargs.

Templates: every *.jinja in shared/data/templates, the template embedded in the SmolLM2 GGUF (read
with the `gguf` package), and two templates written for this test (a role-alternation template
that calls raise_exception, and one that pushes message data through many filters, methods and
Python reprs). A Hypothesis property generates conversations (system or not, multi-turn, tool
calls and tool results, unicode, empty strings, characters special to Jinja and JSON) and checks
the output is byte-identical; where jinja2 raises, cyllm must exit non-zero with a message on
stderr. One cyllm process per example; about 45 examples per template."""
import json
import os
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cyllm

jinja2 = pytest.importorskip("jinja2")
gguf = pytest.importorskip("gguf")
import jinja2.ext  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

EXAMPLES = int(os.environ.get("CYLLM_TEMPLATE_EXAMPLES", "45"))
# Derandomized by default so CI runs are reproducible; CYLLM_TEMPLATE_RANDOM=1 explores new cases.
DERANDOMIZE = os.environ.get("CYLLM_TEMPLATE_RANDOM") != "1"


# ---- the reference renderer ------------------------------------------------------------------

def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt):
    return datetime.now().strftime(fmt)


def hf_environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


ENV = hf_environment()


def hf_render(template, messages, tools, add_generation_prompt, bos, eos, extra):
    """Returns ("ok", text) or ("error", message)."""
    try:
        compiled = ENV.from_string(template)
        kwargs = {"bos_token": bos, "eos_token": eos, **extra}
        return "ok", compiled.render(messages=messages, tools=tools, documents=None,
                                     add_generation_prompt=add_generation_prompt, **kwargs)
    except Exception as e:  # noqa: BLE001 - any jinja2/Python error means "the template fails"
        return "error", f"{type(e).__name__}: {e}"


# ---- templates -------------------------------------------------------------------------------

# Written for this test: Mistral-style strict alternation, so bad role orders hit raise_exception.
ALTERNATION = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- '[INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- '[INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token }}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported!') }}
    {%- endif %}
{%- endfor %}
"""

# Written for this test: message data through filters, methods, slicing, macros, namespaces,
# loop variables and Python reprs of dicts and lists.
KITCHEN_SINK = """{%- macro show(m, idx=0) -%}
<{{ idx }}:{{ m.role|upper }}|{{ m.role|title }}|{{ m.role|capitalize }}>
{%- if m.content is string -%}
{{ m.content|length }}:{{ m.content|trim }}|{{ m.content.strip() }}|{{ m.content.split()|join('/') }}|
{{- m.content|replace('a', 'A') }}|{{ m.content[:3] }}|{{ m.content[-2:] }}|{{ m.content|tojson }}|
{{- m.content|lower }}|{{ m.content|upper }}|{{ m.content.startswith('{') }}|{{ m.content|wordcount }}|
{{- m.content.split('\\n')|length }}|{{ m.content|reverse }}|{{ m.content.lstrip(' a') }}
{%- elif m.content is none -%}
none!
{%- else -%}
{{ m.content|tojson(indent=2) }}
{%- endif -%}
{%- endmacro -%}
{%- set ns = namespace(users=0, chars=0) -%}
{%- for m in messages -%}
  {%- if m.role == 'user' %}{% set ns.users = ns.users + 1 %}{% endif -%}
  {%- if m.content is string %}{% set ns.chars = ns.chars + m.content|length %}{% endif -%}
  {{ show(m, loop.index0) }}{{ '\\n' if not loop.last else '' }}
  {%- if m.tool_calls is defined and m.tool_calls -%}
    {%- for tc in m.tool_calls -%}
      [{{ loop.index }}/{{ loop.length }} {{ tc.function.name }}=
      {%- if tc.function.arguments is mapping -%}
        {{ tc.function.arguments|tojson(indent=1) }}{{ tc.function.arguments|dictsort }}{{ tc.function.arguments }}
      {%- else -%}
        {{ tc.function.arguments }}
      {%- endif %}]
    {%- endfor -%}
  {%- endif -%}
{%- endfor %}
users={{ ns.users }} chars={{ ns.chars }} total={{ messages|length }} roles={{ messages|map(attribute='role')|unique|list }}
{{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ (messages|last).role }} {{ messages[0] }}
{%- if tools %}
{%- for t in tools %}
{{ t|tojson(indent=4) }}
{%- for k, v in t.function.parameters.properties|dictsort %} {{ k }}:{{ v.type }}{% endfor %}
{%- endfor %}
{%- endif %}
{{ add_generation_prompt }}"""


def smollm2_template(model: Path) -> str:
    reader = gguf.GGUFReader(str(model))
    f = reader.fields["tokenizer.chat_template"]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def shared_templates(shared_dir: Path):
    d = shared_dir / "data" / "templates"
    return sorted(d.glob("*.jinja"))


TEMPLATE_IDS = [
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use",
    "Qwen-Qwen2.5-7B-Instruct",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",
    "meta-llama-Llama-3.1-8B-Instruct",
    "microsoft-Phi-3.5-mini-instruct",
    "smollm2-gguf",
    "alternation",
    "kitchen-sink",
]


@pytest.fixture(scope="module")
def template_texts(request, shared_dir):
    texts = {p.stem: p.read_text(encoding="utf-8") for p in shared_templates(shared_dir)}
    texts["alternation"] = ALTERNATION
    texts["kitchen-sink"] = KITCHEN_SINK
    return texts


def test_shared_templates_are_all_covered(shared_dir):
    # Every template in the shared folder must be in TEMPLATE_IDS, so a new one cannot be skipped.
    stems = {p.stem for p in shared_templates(shared_dir)}
    assert stems, "no templates found"
    assert stems <= set(TEMPLATE_IDS), f"templates not covered: {sorted(stems - set(TEMPLATE_IDS))}"


# ---- generated conversations ------------------------------------------------------------------

# Fragments special to Jinja, JSON, chat markup and Python's str methods.
SPECIAL = ["{{", "}}", "{%", "%}", "{#", "#}", "{{ x }}", "{% if true %}", "{%- endif -%}", "'", '"', "\\", "\\n",
           "\n", "\r\n", "\t", "  ", "<|im_end|>", "<|im_start|>", "</think>", "<think>", "{", "}", "[", "]",
           "null", "true", "é", "中文", "😀", "ß", "Ω", "Ж", "\x00", "\x1f", "\x7f", "\u00a0", "\u2028", "\u3000",
           "a", "A", " a ", "<s>", "</tool_call>"]
ALPHABET = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;!?'\"\\/{}[]()<>|%#~*+=&$@`^\n\t"
            "éèàçñüößÀÉÑÜΩαβγΔЖжЯя中文字😀🎉\u00a0\u2028\u3000")

text = st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(alphabet=ALPHABET, max_size=8)), max_size=6).map("".join)
names = st.sampled_from(["get_weather", "search", "calc", "lookup_é", "run_code"])
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 53), 2 ** 53),
                        st.floats(allow_nan=False, allow_infinity=False, width=64), text)
json_value = st.recursive(json_scalar, lambda c: st.one_of(st.lists(c, max_size=3),
                                                           st.dictionaries(st.sampled_from(["a", "b", "é", "k k"]), c, max_size=3)),
                          max_leaves=6)
arguments = st.dictionaries(st.sampled_from(["location", "unit", "query", "é", "n"]), json_value, max_size=3)

param_schema = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["string", "number", "integer", "boolean"])},
                          optional={"description": text, "enum": st.lists(text, min_size=1, max_size=2)}),
    st.fixed_dictionaries({"type": st.just("array"), "items": st.fixed_dictionaries({"type": st.just("string")})},
                          optional={"description": text}),
    st.fixed_dictionaries({"type": st.just(["string", "null"])}, optional={"description": text}),
    st.fixed_dictionaries({"type": st.just("object"), "additionalProperties": st.fixed_dictionaries({"type": st.just("integer")})},
                          optional={"description": text}),
)


@st.composite
def tool_def(draw):
    props = draw(st.dictionaries(st.sampled_from(["location", "unit", "query", "n", "é"]), param_schema, max_size=3))
    fn = {"name": draw(names), "description": draw(text),
          "parameters": {"type": "object", "properties": props, "required": sorted(props)[:1]}}
    if draw(st.integers(0, 4)) == 0:
        fn["return"] = {"type": "string", "description": draw(text)}
    return {"type": "function", "function": fn}


@st.composite
def tool_call(draw):
    args = draw(arguments)
    if draw(st.booleans()):
        args = json.dumps(args, ensure_ascii=False)
    return {"id": "call_" + str(draw(st.integers(0, 999))), "type": "function",
            "function": {"name": draw(names), "arguments": args}}


@st.composite
def conversation(draw):
    msgs = []
    plain = draw(st.booleans())  # plain: strictly alternating user/assistant, no tool calls
    if draw(st.booleans()):
        msgs.append({"role": "system", "content": draw(text)})
    turns = draw(st.integers(1, 4))
    for i in range(turns):
        msgs.append({"role": "user", "content": draw(text)})
        if not plain and draw(st.integers(0, 2)) == 0:
            calls = draw(st.lists(tool_call(), min_size=1, max_size=2))
            content = draw(st.one_of(st.none(), st.just(""), text))
            msgs.append({"role": "assistant", "content": content, "tool_calls": calls})
            for c in calls:
                msgs.append({"role": "tool", "tool_call_id": c["id"], "content": draw(text)})
        if i < turns - 1 or draw(st.booleans()):
            msgs.append({"role": "assistant", "content": draw(text)})
    # Now and then something templates reject or handle specially.
    kind = 99 if plain else draw(st.integers(0, 7))
    if kind == 0:
        msgs.insert(draw(st.integers(0, len(msgs))), {"role": draw(st.sampled_from(["user", "assistant", "developer", "tool"])),
                                                      "content": draw(text)})
    elif kind == 1:
        msgs[-1] = dict(msgs[-1], content=[{"type": "text", "text": draw(text)}])
    elif kind == 2:
        msgs[-1] = {k: v for k, v in msgs[-1].items() if k != "content"}
    elif kind == 3:
        msgs = []
    return msgs


@st.composite
def render_case(draw):
    extra = {}
    if draw(st.booleans()):
        extra["tools_in_user_message"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        extra["date_string"] = draw(text)
    if draw(st.integers(0, 5)) == 0:
        extra["builtin_tools"] = draw(st.lists(st.sampled_from(["brave_search", "wolfram_alpha", "code_interpreter", "search"]),
                                               max_size=3, unique=True))
    return {
        "messages": draw(conversation()),
        "tools": None if draw(st.integers(0, 2)) == 0 else draw(st.lists(tool_def(), min_size=1, max_size=2)),
        "add_generation_prompt": draw(st.booleans()),
        "bos": draw(st.sampled_from(["<s>", "<|begin_of_text|>", "", "<｜begin▁of▁sentence｜>"])),
        "eos": draw(st.sampled_from(["</s>", "<|eot_id|>", "<|im_end|>", ""])),
        "extra": extra,
    }


# ---- running cyllm ---------------------------------------------------------------------------

def cyllm_render(cyllm_bin, workdir: Path, template_path: Path, case):
    mpath = workdir / "messages.json"
    mpath.write_text(json.dumps(case["messages"], ensure_ascii=False), encoding="utf-8")
    args = [cyllm_bin, "template", "--template", str(template_path), "--messages", str(mpath),
            "--bos-token", case["bos"], "--eos-token", case["eos"]]
    if case["tools"] is not None:
        tpath = workdir / "tools.json"
        tpath.write_text(json.dumps(case["tools"], ensure_ascii=False), encoding="utf-8")
        args += ["--tools", str(tpath)]
    if case["add_generation_prompt"]:
        args.append("--add-generation-prompt")
    for k, v in case["extra"].items():
        args += ["--var", f"{k}={json.dumps(v, ensure_ascii=False)}"]
    return subprocess.run(args, capture_output=True, timeout=60)


def check_case(cyllm_bin, workdir, template_text, template_path, case):
    status, expected = hf_render(template_text, case["messages"], case["tools"], case["add_generation_prompt"],
                                 case["bos"], case["eos"], case["extra"])
    proc = cyllm_render(cyllm_bin, workdir, template_path, case)
    if status == "error":
        assert proc.returncode != 0, (f"jinja2 raised ({expected}) but cyllm rendered "
                                      f"{proc.stdout.decode(errors='replace')!r}\ncase: {case!r}")
        assert proc.stderr.strip(), "cyllm failed without a message on stderr"
        return "error"
    assert proc.returncode == 0, f"cyllm failed: {proc.stderr.decode(errors='replace')}\ncase: {case!r}"
    got = proc.stdout.decode("utf-8", errors="surrogateescape")
    assert got == expected, f"output differs\ncase: {case!r}\njinja2: {expected!r}\ncyllm:  {got!r}"
    return "ok"


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_matches_jinja2(template_id, template_texts, default_model, cyllm_bin, tmp_path_factory):
    if template_id == "smollm2-gguf":
        tpl = smollm2_template(default_model)
    else:
        tpl = template_texts[template_id]
    workdir = tmp_path_factory.mktemp(template_id)
    tpath = workdir / "template.jinja"
    tpath.write_text(tpl, encoding="utf-8")
    outcomes = {"ok": 0, "error": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
    @given(case=render_case())
    def prop(case):
        outcomes[check_case(cyllm_bin, workdir, tpl, tpath, case)] += 1

    prop()
    print(f"{template_id}: {outcomes}")
    # The property must exercise successful renders too, not only agreement on errors.
    assert outcomes["ok"] >= EXAMPLES // 4, f"too few successful renders for {template_id}: {outcomes}"


FIXED_CASES = [
    # (template id, messages, tools, add_generation_prompt)
    ("Qwen-Qwen2.5-7B-Instruct",
     [{"role": "user", "content": "What's the weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "°C"}}}]},
      {"role": "tool", "content": "{\"temp\": 21}"}, {"role": "tool", "content": "second"}],
     [{"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
     True),
    ("meta-llama-Llama-3.1-8B-Instruct",
     [{"role": "system", "content": "  Be brief.  "}, {"role": "user", "content": "Hi {{ there }} {% raw %}"},
      {"role": "assistant", "tool_calls": [{"function": {"name": "search", "arguments": {"q": "x", "n": [1, 2.5, None, True]}}}]},
      {"role": "ipython", "content": {"result": [1, 2]}}],
     [{"type": "function", "function": {"name": "search", "description": "d", "parameters": {"type": "object", "properties": {}}}}],
     False),
    ("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use",
     [{"role": "user", "content": "call it"}],
     [{"type": "function", "function": {"name": "f", "description": "does f",
                                         "parameters": {"type": "object", "properties": {
                                             "a": {"type": "array", "items": {"type": "string"}, "description": " list "},
                                             "b": {"type": ["string", "integer"], "description": "u"},
                                             "c": {"type": "object", "additionalProperties": {"type": "integer"}}}}}}],
     True),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",
     [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
      {"role": "assistant", "content": "<think>reasoning</think>answer"},
      {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}},
                                                           {"type": "function", "function": {"name": "g", "arguments": "{}"}}]},
      {"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"}],
     None, True),
]


@pytest.mark.parametrize("template_id,messages,tools,agp", FIXED_CASES, ids=[c[0] for c in FIXED_CASES])
def test_fixed_conversations(template_id, messages, tools, agp, template_texts, cyllm_bin, tmp_path):
    tpl = template_texts[template_id]
    tpath = tmp_path / "t.jinja"
    tpath.write_text(tpl, encoding="utf-8")
    case = {"messages": messages, "tools": tools, "add_generation_prompt": agp, "bos": "<s>", "eos": "</s>", "extra": {}}
    assert check_case(cyllm_bin, tmp_path, tpl, tpath, case) == "ok"


def test_raise_exception_fails_with_message(template_texts, cyllm_bin, tmp_path):
    tpath = tmp_path / "t.jinja"
    tpath.write_text(ALTERNATION, encoding="utf-8")
    case = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "tools": None,
            "add_generation_prompt": False, "bos": "<s>", "eos": "</s>", "extra": {}}
    assert hf_render(ALTERNATION, case["messages"], None, False, "<s>", "</s>", {})[0] == "error"
    proc = cyllm_render(cyllm_bin, tmp_path, tpath, case)
    assert proc.returncode != 0
    assert b"Conversation roles must alternate" in proc.stderr
    assert proc.stdout == b""


def test_model_template_and_special_tokens(default_model, cyllm_bin, tmp_path):
    """-m reads tokenizer.chat_template from the GGUF and bos/eos from its token list."""
    tpl = smollm2_template(default_model)
    reader = gguf.GGUFReader(str(default_model))
    f = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    bos = tokens[int(reader.fields["tokenizer.ggml.bos_token_id"].parts[-1][0])]
    eos = tokens[int(reader.fields["tokenizer.ggml.eos_token_id"].parts[-1][0])]
    messages = [{"role": "user", "content": "Hello ünïcode {{x}}"}, {"role": "assistant", "content": "Hi"},
                {"role": "user", "content": "again"}]
    mpath = tmp_path / "m.json"
    mpath.write_text(json.dumps(messages), encoding="utf-8")
    proc = run_cyllm(cyllm_bin, "template", "-m", str(default_model), "--messages", str(mpath), "--add-generation-prompt")
    status, expected = hf_render(tpl, messages, None, True, bos, eos, {})
    assert status == "ok"
    assert proc.stdout.decode("utf-8") == expected
    assert expected.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    # A template that prints the special tokens shows the model's defaults.
    tfile = tmp_path / "tok.jinja"
    tfile.write_text("[{{ bos_token }}|{{ eos_token }}]", encoding="utf-8")
    proc = run_cyllm(cyllm_bin, "template", "-m", str(default_model), "--template", str(tfile), "--messages", str(mpath))
    assert proc.stdout.decode("utf-8") == f"[{bos}|{eos}]"


def test_no_added_newline_and_errors(cyllm_bin, tmp_path):
    tfile = tmp_path / "t.jinja"
    tfile.write_text("x\n", encoding="utf-8")  # keep_trailing_newline=False drops the final newline
    mpath = tmp_path / "m.json"
    mpath.write_text("[]", encoding="utf-8")
    assert run_cyllm(cyllm_bin, "template", "--template", str(tfile), "--messages", str(mpath)).stdout == b"x"
    tfile.write_text("line1\n{% for m in messages %}\n{{ m.content }\n{% endfor %}", encoding="utf-8")
    proc = run_cyllm(cyllm_bin, "template", "--template", str(tfile), "--messages", str(mpath), check=False)
    assert proc.returncode != 0
    assert b"line 3" in proc.stderr and b"column" in proc.stderr
    tfile.write_text("ok\n  {% include 'other.jinja' %}", encoding="utf-8")
    proc = run_cyllm(cyllm_bin, "template", "--template", str(tfile), "--messages", str(mpath), check=False)
    assert proc.returncode != 0
    assert b"include" in proc.stderr and b"line 2" in proc.stderr

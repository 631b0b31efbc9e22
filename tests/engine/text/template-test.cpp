// Unit tests of the chat-template renderer (engine/text/chat-template.h, engine/text/jinja/):
// each Jinja construct the issue lists, Python value semantics, whitespace control, error messages
// with line/column, resource limits, GGUF loading, fallback selection and the template hash.
// Byte-for-byte agreement with Python jinja2 is checked by tests/python/test_template_oracle.py.
#include <ctime>
#include <string>

#include <gtest/gtest.h>

#include "../model/gguf-writer.h"
#include "model/gguf-reader.h"
#include "support/test-paths.h"
#include "text/chat-template.h"

using cyllm::ChatTemplate;
using cyllm::ChatTemplateInputs;
using cyllm::ErrorCode;
using json = nlohmann::ordered_json;

namespace {

// Renders `tpl` with the variables of `vars` (a JSON object) and the given messages.
std::string render(const std::string& tpl, const json& vars = json::object(), const json& messages = json::array()) {
  auto t = ChatTemplate::from_text(tpl);
  if (!t.ok()) return "PARSE ERROR: " + t.error().message;
  ChatTemplateInputs in;
  in.messages = messages;
  for (auto it = vars.begin(); it != vars.end(); ++it) in.extra_vars.emplace_back(it.key(), it.value());
  auto r = t->render(in);
  if (!r.ok()) return "RENDER ERROR: " + r.error().message;
  return r.value();
}

// The error of parsing or rendering `tpl` (empty if it succeeds).
cyllm::Error failure(const std::string& tpl, const json& vars = json::object()) {
  auto t = ChatTemplate::from_text(tpl);
  if (!t.ok()) return t.error();
  ChatTemplateInputs in;
  for (auto it = vars.begin(); it != vars.end(); ++it) in.extra_vars.emplace_back(it.key(), it.value());
  auto r = t->render(in);
  if (!r.ok()) return r.error();
  return cyllm::make_error(ErrorCode::kInternal, "");
}

const json kData = json::parse(R"({"l": [3, 1, 2], "d": {"a": 1, "b": [1, 2]}, "s": " Hello World ", "n": null})");

}  // namespace

TEST(JinjaFor, LoopVariables) {
  EXPECT_EQ(render("{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}"
                   "{{ loop.revindex }};{% endfor %}", kData),
            "10TrueFalse33;21FalseFalse32;32FalseTrue31;");
  EXPECT_EQ(render("{% for x in l %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}|{% endfor %}", kData), "<3>1|3<1>2|1<2>|");
  EXPECT_EQ(render("{% for x in l %}{{ loop.cycle('a', 'b') }}{% endfor %}", kData), "aba");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", kData), "a=1,b=[1, 2],");
  EXPECT_EQ(render("{% for k, v in d|items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}", kData), "abab");
  EXPECT_EQ(render("{% for c in 'héllo' %}{{ c }}.{% endfor %}"), "h.é.l.l.o.");
  EXPECT_EQ(render("{% for x in l if x > 1 %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}", kData),
            "1/2:3 2/2:2 ");
}

TEST(JinjaFor, BreakContinueAndScoping) {
  EXPECT_EQ(render("{% for x in l %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}", kData), "32");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "012");
  // A set inside a loop does not leak out, and each iteration starts from the outer value.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }};{% endfor %}{{ x }}"),
            "12;12;12;1");
  // namespace() carries state out of loops.
  EXPECT_EQ(render("{% set ns = namespace(a=1, s='') %}{% for x in l %}{% set ns.a = ns.a + x %}{% endfor %}{{ ns.a }}",
                   kData),
            "7");
  // `if` does not scope.
  EXPECT_EQ(render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
}

TEST(JinjaIf, ElifElseInlineAndTests) {
  EXPECT_EQ(render("{% for v in [1, 2, 3] %}{% if v == 1 %}a{% elif v == 2 %}b{% else %}c{% endif %}{% endfor %}"), "abc");
  EXPECT_EQ(render("{{ 'x' if true else 'y' }}{{ 'x' if false else 'y' }}[{{ 'x' if false }}]"), "xy[]");
  EXPECT_EQ(render("{{ n is none }}{{ n is not none }}{{ x is defined }}{{ d.a is defined }}{{ d is mapping }}"
                   "{{ l is iterable }}{{ s is string }}{{ 1 is number }}{{ 1.5 is number }}{{ 'a' is number }}",
                   kData),
            "TrueFalseFalseTrueTrueTrueTrueTrueTrueFalse");
  EXPECT_EQ(render("{{ 'a' is equalto 'a' }}{{ 2 is equalto 3 }}{{ 4 is divisibleby 2 }}{{ 3 is odd }}{{ 'ab' is lower }}"),
            "TrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ 1 in l }}{{ 5 not in l }}{{ 'a' in 'cat' }}{{ 'a' in d }}{{ 'z' not in d }}", kData),
            "TrueTrueTrueTrueTrue");
}

TEST(JinjaSet, TuplesBlocksAndWith) {
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(render("{% set y %}block {{ 1 }}{% endset %}{{ y }}|{{ y|length }}"), "block 1|7");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
}

TEST(JinjaMacro, DefaultsVarargsCaller) {
  EXPECT_EQ(render("{% macro m(a, b=a ~ 'x') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}|{{ m(1, 2) }}|{{ m(b=3, a=4) }}"),
            "11x|12|43");
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{{ varargs }}{% endmacro %}{{ m(1, 2, 3) }}"), "1(2, 3)");
  EXPECT_EQ(render("{% macro m(a) %}[{{ caller(a) }}]{% endmacro %}{% call(x) m(5) %}in{{ x }}{% endcall %}"), "[in5]");
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"), "321");
  EXPECT_NE(render("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}").find("RENDER ERROR"), std::string::npos);
}

TEST(JinjaWhitespace, TrimAndLstripBlocks) {
  // trim_blocks removes the newline after a tag; lstrip_blocks removes indentation before one.
  EXPECT_EQ(render("a\n  {% if true %}\n  x\n  {% endif %}\n  y\n"), "a\n  x\n  y");
  EXPECT_EQ(render("{% for i in [1, 2] %}\n    {{ i }}\n{% endfor %}"), "    1\n    2\n");
  EXPECT_EQ(render("a {{- ' b ' -}} c"), "a b c");
  EXPECT_EQ(render("x {% if true -%}\n y {%- endif %} z"), "x y z");
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
  EXPECT_EQ(render("{# comment #}\n  {# another #}  z"), "  z");
  EXPECT_EQ(render("{{ 'a' }}   {% if true %}b{% endif %}"), "a   b");
  EXPECT_EQ(render("{% raw %}{{ not parsed }}{% endraw %}"), "{{ not parsed }}");
  EXPECT_EQ(render("x\r\ny\n"), "x\ny");  // newlines normalised, one trailing newline dropped
}

TEST(JinjaExpr, LiteralsArithmeticAndComparisons) {
  EXPECT_EQ(render("{{ 1 }} {{ 1.5 }} {{ 1e16 }} {{ 1/3 }} {{ 10/2 }} {{ 2**10 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 % 2 }}"),
            "1 1.5 1e+16 0.3333333333333333 5.0 1024 -4 2 1.5");
  EXPECT_EQ(render("{{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1_000 }} {{ 123456789012345678 }}"),
            "64 4 0.30000000000000004 1e-05 1000 123456789012345678");
  EXPECT_EQ(render("{{ none }}|{{ undefined_x }}|{{ true }}|{{ [1, 'a', none, true, 1.0] }}|{{ {'k': 'v'} }}|{{ (1,) }}"),
            "None||True|[1, 'a', None, True, 1.0]|{'k': 'v'}|(1,)");
  EXPECT_EQ(render("{{ \"it's\" }}{{ [\"it's\", 'a\"b', 'x\\ny'] }}"), "it's[\"it's\", 'a\"b', 'x\\ny']");
  EXPECT_EQ(render("{{ 1 == 1.0 }}{{ true == 1 }}{{ '1' == 1 }}{{ [1, 2] == [1, 2] }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 5 }}"),
            "TrueTrueFalseTrueTrueFalse");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ x }}{{ [1] + [2] }}{{ 'ab' * 3 }}{{ 'a' 'b' }}"), "a1None[1, 2]abababab");
  EXPECT_EQ(render("{{ l[0] }}{{ l[-1] }}{{ l[1:] }}{{ l[:-1] }}{{ l[::2] }}[{{ l[10] }}]{{ s[1:6] }}{{ 'héllo'[1] }}"
                   "{{ 'héllo'[::-1] }}",
                   kData),
            "32[1, 2][3, 1][3, 2][]Helloéolléh");
  EXPECT_EQ(render("{{ d.a }}{{ d['b'][1] }}{{ d.b.0 }}{{ {'a': {'b': 'c'}}.a.b }}", kData), "121c");
}

TEST(JinjaFilters, CoreFilters) {
  EXPECT_EQ(render("{{ s|trim }}|{{ s|upper }}|{{ s|lower }}|{{ 'hello wORLD'|title }}|{{ 'hELLO'|capitalize }}|{{ s|length }}",
                   kData),
            "Hello World| HELLO WORLD | hello world |Hello World|Hello|13");
  EXPECT_EQ(render("{{ l|first }}{{ l|last }}{{ l|join('-') }}{{ l|sort }}{{ l|list }}{{ l|sum }}{{ l|min }}{{ l|max }}", kData),
            "323-1-2[1, 2, 3][3, 1, 2]613");
  EXPECT_EQ(render("{{ x|default('d') }}{{ n|default('d') }}{{ ''|default('d', true) }}", kData), "dNoned");
  EXPECT_EQ(render("{{ 'Hello'|replace('l', 'L') }}{{ '42'|int }}{{ '4.7'|int }}{{ 'x'|int }}{{ 3.9|int }}{{ 3|string }}"),
            "HeLLo424033");
  const json msgs = json::parse(R"([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                    {"role": "user", "content": "c"}])");
  EXPECT_EQ(render("{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join(',') }}|"
                   "{{ messages|rejectattr('role', 'equalto', 'user')|list|length }}|{{ messages|map(attribute='role')|unique|list }}",
                   json::object(), msgs),
            "a,c|1|['user', 'assistant']");
  EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('odd')|list }}{{ [1, 2, 3, 4]|reject('odd')|list }}{{ d|dictsort }}", kData),
            "[1, 3][2, 4][('a', 1), ('b', [1, 2])]");
  // A generator is always true and one-shot, like Python's.
  EXPECT_EQ(render("{% set g = l|select('odd') %}{% if g %}T{% endif %}{{ g|list }}{{ g|list }}", kData), "T[3, 1][]");
}

TEST(JinjaFilters, ToJsonLikeTransformers) {
  EXPECT_EQ(render("{{ d|tojson }}", kData), "{\"a\": 1, \"b\": [1, 2]}");
  EXPECT_EQ(render("{{ d|tojson(indent=2) }}", kData), "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}");
  // ensure_ascii=False by default, no HTML escaping, insertion order kept.
  EXPECT_EQ(render("{{ {'z': 'é<&>', 'a': \"x\\\"y\\n\"}|tojson }}"), "{\"z\": \"é<&>\", \"a\": \"x\\\"y\\n\"}");
  EXPECT_EQ(render("{{ 'é'|tojson(ensure_ascii=true) }}{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"),
            "\"\\u00e9\"{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(render("{{ [1, 2]|tojson(separators=(',', ':')) }}{{ {'a': [], 'b': {}}|tojson(indent=1) }}"),
            "[1,2]{\n \"a\": [],\n \"b\": {}\n}");
  EXPECT_EQ(render("{{ [1.0, 1e100, none, true]|tojson }}"), "[1.0, 1e+100, null, true]");
}

TEST(JinjaMethods, StringAndDictMethods) {
  EXPECT_EQ(render("{{ ' x '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' x'.lstrip() }}|{{ 'x '.rstrip() }}|"
                   "{{ 'abc'.startswith('a') }}{{ 'abc'.endswith(('c', 'd')) }}"),
            "x|a|x|x|TrueTrue");
  EXPECT_EQ(render("{{ 'a b  c'.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a b c'.split(' ', 1) }}{{ 'x</think>y'.split('</think>')[-1] }}"),
            "['a', 'b', 'c']['a', 'b', '', 'c']['a', 'b c']y");
  EXPECT_EQ(render("{{ 'ab'.upper() }}{{ 'AB'.lower() }}{{ 'hello world'.title() }}{{ 'Hello'.replace('l', 'L', 1) }}"),
            "ABabHello WorldHeLlo");
  EXPECT_EQ(render("{{ 'straße'.upper() }}{{ 'ÉCOLE Ωμέγα'.lower() }}"), "STRASSEécole ωμέγα");
  EXPECT_EQ(render("{{ d.get('a') }}{{ d.get('q') }}{{ d.get('q', 7) }}{{ d.keys()|list }}{{ d.items()|list|length }}", kData),
            "1None7['a', 'b']2");
}

TEST(JinjaGlobals, RaiseExceptionAndStrftime) {
  auto e = failure("line1\n{{ raise_exception('roles must alternate') }}");
  EXPECT_NE(e.message.find("roles must alternate"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line 2"), std::string::npos) << e.message;
  char year[16];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(year, sizeof(year), "%Y", &tm);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), year);
  EXPECT_EQ(render("{{ range(3)|list }}{{ range(1, 10, 4)|list }}{{ namespace(a=1).a }}{{ dict(k=2).k }}"), "[0, 1, 2][1, 5, 9]12");
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  auto e = failure("line1\n{% for m in messages %}\n{{ m.content }\n{% endfor %}");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("line 3"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("column 14"), std::string::npos) << e.message;

  e = failure("ok\n  {% include 'x.jinja' %}");
  EXPECT_EQ(e.code, ErrorCode::kUnsupported);
  EXPECT_NE(e.message.find("include"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line 2, column 6"), std::string::npos) << e.message;

  e = failure("{% for x in l %}\n{{ x }}");
  EXPECT_NE(e.message.find("endfor"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line 1, column 4"), std::string::npos) << e.message;  // where the for began

  e = failure("{{ x|nosuchfilter }}");
  EXPECT_NE(e.message.find("no filter named 'nosuchfilter'"), std::string::npos) << e.message;
  e = failure("{{ x|groupby('a') }}");
  EXPECT_EQ(e.code, ErrorCode::kUnsupported);
  EXPECT_NE(e.message.find("groupby"), std::string::npos) << e.message;
  e = failure("{% frobnicate %}");
  EXPECT_NE(e.message.find("unknown tag 'frobnicate'"), std::string::npos) << e.message;
  e = failure("{% for x in l recursive %}{% endfor %}");
  EXPECT_EQ(e.code, ErrorCode::kUnsupported);
  e = failure("{{ 'unterminated }}");
  EXPECT_NE(e.message.find("unterminated string"), std::string::npos) << e.message;
  e = failure("{% break %}");
  EXPECT_NE(e.message.find("outside of a for loop"), std::string::npos) << e.message;
}

TEST(JinjaErrors, RuntimeErrorsArePositioned) {
  auto e = failure("a\nb {{ 'x' + 1 }}");
  EXPECT_NE(e.message.find("can only concatenate str"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line 2"), std::string::npos) << e.message;
  e = failure("{{ undefined_thing.attr }}");
  EXPECT_NE(e.message.find("'undefined_thing' is undefined"), std::string::npos) << e.message;
  e = failure("{{ d.missing.x }}", kData);
  EXPECT_NE(e.message.find("has no attribute 'missing'"), std::string::npos) << e.message;
  e = failure("{{ l.append(1) }}", kData);  // the immutable sandbox refuses mutation
  EXPECT_NE(e.message.find("unsafe"), std::string::npos) << e.message;
  e = failure("{{ 1 / 0 }}");
  EXPECT_NE(e.message.find("division by zero"), std::string::npos) << e.message;
}

TEST(JinjaLimits, HostileTemplatesFailCleanly) {
  EXPECT_EQ(failure("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").code, ErrorCode::kOutOfRange);
  EXPECT_NE(failure("{{ range(1000000)|list }}").message.find("Range too big"), std::string::npos);
  EXPECT_EQ(failure("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}").code,
            ErrorCode::kOutOfRange);
  EXPECT_EQ(failure("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").code, ErrorCode::kOutOfRange);
  EXPECT_EQ(failure(std::string(3000, '{') + "% if x %}").code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(failure("{{ 'x' * 100000000 }}").code, ErrorCode::kOutOfRange);
  EXPECT_EQ(failure("{% set ns = namespace(s='abcdefgh') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                    "{% endfor %}")
                .code,
            ErrorCode::kOutOfRange);
}

TEST(ChatTemplateApi, MessagesToolsAndSpecialTokens) {
  auto t = ChatTemplate::from_text(
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
      "{% if tools is not none %}{{ tools|length }}{% endif %}{% if add_generation_prompt %}<assistant>{% endif %}"
      "{{ eos_token }}{{ documents }}{{ extra }}");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ChatTemplateInputs in;
  in.messages = json::parse(R"([{"role": "user", "content": "hi"}])");
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  auto r = t->render(in);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, "<s><user>hi</s>None");
  in.tools = json::parse(R"([{"type": "function"}])");
  in.add_generation_prompt = true;
  in.extra_vars.emplace_back("extra", json("!"));
  EXPECT_EQ(t->render(in).value(), "<s><user>hi1<assistant></s>None!");
}

TEST(ChatTemplateApi, HashIsStableAndFieldSeparated) {
  EXPECT_EQ(cyllm::chat_template_hash_hex("{{ bos_token }}", "</s>"), "fnv1a64:3cbc25fc6d09a8c0");
  EXPECT_EQ(cyllm::chat_template_hash("", ""), 0x88201fb960ff6465ull);
  EXPECT_NE(cyllm::chat_template_hash("ab", "c"), cyllm::chat_template_hash("a", "bc"));
  EXPECT_NE(cyllm::chat_template_hash("t", "</s>"), cyllm::chat_template_hash("t", "<|im_end|>"));
}

TEST(ChatTemplateGguf, NamedVariantsAndFallback) {
  cyllm::test::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<|begin_of_text|>", "<|start_header_id|>", "<|eot_id|>"});
  w.add_u32("tokenizer.ggml.bos_token_id", 1);
  w.add_u32("tokenizer.ggml.eos_token_id", 3);
  w.add_string("tokenizer.chat_template.tool_use", "tools:{{ messages|length }}");
  auto bytes = w.bytes();
  auto f = cyllm::GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.error().to_string();

  auto names = cyllm::gguf_chat_template_names(*f);
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0], "tool_use");
  auto named = ChatTemplate::from_gguf(*f, "tool_use");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->text(), "tools:{{ messages|length }}");
  EXPECT_FALSE(named->is_fallback());
  EXPECT_EQ(ChatTemplate::from_gguf(*f, "nope").error().code, ErrorCode::kNotFound);

  // No tokenizer.chat_template: a llama3 fallback, recognised from the vocabulary, and said so.
  auto fb = ChatTemplate::from_gguf(*f);
  ASSERT_TRUE(fb.ok()) << fb.error().to_string();
  EXPECT_TRUE(fb->is_fallback());
  EXPECT_NE(fb->origin().find("llama3"), std::string::npos) << fb->origin();
  EXPECT_EQ(cyllm::gguf_token_text(*f, "tokenizer.ggml.bos_token_id").value_or(""), "<|begin_of_text|>");
  EXPECT_EQ(cyllm::gguf_token_text(*f, "tokenizer.ggml.eos_token_id").value_or(""), "<|eot_id|>");
  ChatTemplateInputs in;
  in.messages = json::parse(R"([{"role": "user", "content": " hi "}])");
  in.bos_token = "<|begin_of_text|>";
  in.add_generation_prompt = true;
  EXPECT_EQ(fb->render(in).value(),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");

  // An override wins over everything.
  auto ov = ChatTemplate::from_gguf(*f, "", "override");
  ASSERT_TRUE(ov.ok());
  EXPECT_EQ(ov->render(in).value(), "override");

  // Every built-in fallback parses and renders a simple conversation.
  for (const char* fam : {"chatml", "llama3", "llama2", "gemma", "phi3", "deepseek"}) {
    auto text = cyllm::builtin_chat_template(fam);
    ASSERT_TRUE(text.has_value()) << fam;
    auto t = ChatTemplate::from_text(*text);
    ASSERT_TRUE(t.ok()) << fam << ": " << t.error().to_string();
    in.eos_token = "</s>";
    auto r = t->render(in);
    ASSERT_TRUE(r.ok()) << fam << ": " << r.error().to_string();
    EXPECT_NE(r->find("hi"), std::string::npos) << fam;
  }
}

TEST(ChatTemplateGguf, SmolLM2Template) {
  CYLLM_REQUIRE_DEFAULT_MODEL(path);
  auto f = cyllm::GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  auto t = ChatTemplate::from_gguf(*f);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_FALSE(t->is_fallback());
  EXPECT_EQ(t->origin(), "GGUF tokenizer.chat_template");
  EXPECT_EQ(cyllm::gguf_token_text(*f, "tokenizer.ggml.bos_token_id").value_or(""), "<|im_start|>");
  EXPECT_EQ(cyllm::gguf_token_text(*f, "tokenizer.ggml.eos_token_id").value_or(""), "<|im_end|>");
  ChatTemplateInputs in;
  in.messages = json::parse(R"([{"role": "user", "content": "Hi"}])");
  in.add_generation_prompt = true;
  EXPECT_EQ(t->render(in).value(),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

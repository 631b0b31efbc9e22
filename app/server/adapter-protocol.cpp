#include "server/adapter-protocol.h"

#include "server/request-reader.h"

namespace cyllm::server {

using detail::ojson;
using detail::Reader;

using detail::parse_object;

Parsed<AdapterLoadRequest> parse_adapter_load_request(std::string_view body) {
  ApiError err;
  auto j = parse_object(body, &err);
  if (!j) return err;
  Reader r(*j);
  AdapterLoadRequest req;
  if (auto v = r.string("name")) req.spec.name = *v;
  else if (r.ok()) r.fail(missing_param("name"));
  if (auto v = r.string("path")) req.spec.path = *v;
  else if (r.ok()) r.fail(missing_param("path"));
  if (auto v = r.number("scale", 0.0, 100.0)) req.spec.scale = static_cast<float>(*v);
  req.spec.preload = true;  // loading through the API means "make it ready now"
  if (auto v = r.boolean("preload")) req.spec.preload = *v;
  if (auto v = r.boolean("replace")) req.spec.replace = *v;
  if (!r.ok()) return r.error();
  req.ignored_fields = r.unused();
  return req;
}

Parsed<std::string> parse_adapter_unload_request(std::string_view body) {
  ApiError err;
  auto j = parse_object(body, &err);
  if (!j) return err;
  Reader r(*j);
  auto name = r.string("name");
  if (!name && r.ok()) r.fail(missing_param("name"));
  if (!r.ok()) return r.error();
  return *name;
}

ojson adapter_json(const AdapterInfo& a) {
  return {{"name", a.name},       {"base", a.base},         {"path", a.path},         {"format", a.format},
          {"scale", a.scale},     {"resident", a.resident}, {"in_use", a.in_use},     {"warnings", a.warnings}};
}

ojson adapter_model_object(const AdapterInfo& a, int64_t created) {
  ojson m = model_object(a.name, created);
  m["parent"] = a.base;
  m["root"] = a.path.empty() ? a.name : a.path;
  return m;
}

ApiError adapter_error(const Error& e, const std::string& param) {
  // A missing or unreadable file is a bad request field; a missing adapter name is a 404.
  if (e.code == ErrorCode::kNotFound && param != "path") {
    ApiError a = model_not_found(e.message);
    a.message = e.message;
    a.param = param;
    return a;
  }
  if (e.code == ErrorCode::kNotFound || e.code == ErrorCode::kMalformedFile || e.code == ErrorCode::kIoError ||
      e.code == ErrorCode::kInvalidArgument)
    return invalid_param(param, e.message);
  return from_engine_error(e, param);
}

}  // namespace cyllm::server

// HttpServer: LoRA adapters over HTTP. GET /v1/adapters lists them; POST /v1/adapters/load and
// /v1/adapters/unload change the registry at run time (admin scope once keys exist); /v1/models
// lists each adapter next to its base. Requests pick an adapter in http-generate.cpp.
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponder>

#include "server/adapter-protocol.h"
#include "server/http-pending.h"

namespace cyllm::server {

nlohmann::ordered_json HttpServer::model_list() const {
  nlohmann::ordered_json j = models_response({be_.model_id}, created_);
  if (be_.adapters)
    for (const AdapterInfo& a : be_.adapters->list()) j["data"].push_back(adapter_model_object(a, created_));
  return j;
}

std::optional<nlohmann::ordered_json> HttpServer::find_model(const std::string& id) const {
  if (id == be_.model_id) return model_object(id, created_);
  if (!be_.adapters) return std::nullopt;
  if (auto name = be_.adapters->adapter_for_model(id))
    for (const AdapterInfo& a : be_.adapters->list())
      if (a.name == *name) return adapter_model_object(a, created_);
  return std::nullopt;
}

void HttpServer::handle_adapters(const QHttpServerRequest& req, QHttpServerResponder&& resp, const std::string& endpoint) {
  Exchange ex;
  if (!begin(req, resp, endpoint, "admin", ex)) return;
  if (!be_.adapters) {
    ApiError e = from_engine_error(make_error(ErrorCode::kUnsupported, "this server was started without adapter support"));
    return answer_error(ex, resp, e);
  }
  AdapterRegistry& reg = *be_.adapters;
  const std::string body = req.body().toStdString();
  if (endpoint == "/v1/adapters") {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const AdapterInfo& a : reg.list()) list.push_back(adapter_json(a));
    return answer(ex, resp, 200, QByteArray::fromStdString(nlohmann::ordered_json{{"object", "list"}, {"data", list}}.dump()));
  }
  if (endpoint == "/v1/adapters/load") {
    auto parsed = parse_adapter_load_request(body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return answer_error(ex, resp, *e);
    const AdapterSpec& spec = std::get<AdapterLoadRequest>(parsed).spec;
    if (auto st = reg.register_file(spec); !st) return answer_error(ex, resp, adapter_error(st.error(), "path"));
    rt_->log->log(LogLevel::kInfo, "adapter_loaded",
                  {{"trace_id", ex.adm.trace.trace_id}, {"name", spec.name}, {"path", spec.path}, {"scale", spec.scale}});
    for (const AdapterInfo& a : reg.list())
      if (a.name == spec.name) return answer(ex, resp, 200, QByteArray::fromStdString(adapter_json(a).dump()));
    return answer(ex, resp, 200, "{}");
  }
  auto parsed = parse_adapter_unload_request(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return answer_error(ex, resp, *e);
  const std::string& name = std::get<std::string>(parsed);
  if (auto st = reg.unload(name); !st) return answer_error(ex, resp, adapter_error(st.error(), "name"));
  rt_->log->log(LogLevel::kInfo, "adapter_unloaded", {{"trace_id", ex.adm.trace.trace_id}, {"name", name}});
  answer(ex, resp, 200, QByteArray::fromStdString(nlohmann::ordered_json{{"name", name}, {"unloaded", true}}.dump()));
}

}  // namespace cyllm::server

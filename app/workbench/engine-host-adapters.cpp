// EngineHost's LoRA adapters: one AdapterRegistry per loaded model (see engine-host.h).
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>

#include "cli/adapter-source.h"
#include "cli/chat-prompt.h"
#include "train/checkpoint-adapter.h"
#include "workbench/engine-host.h"

namespace cyllm::workbench {

void EngineHost::makeRegistry() {
  AdapterRegistryOptions ro;
  ro.max_resident = max_resident_;
  ro.server = prompt_->adapter_provenance(*lm_->tokenizer);  // what the chat and the server render with
  ro.base_name = QFileInfo(path_).completeBaseName().toStdString();
  // Called on whichever thread loaded the adapter, outside the registry's lock: hop to ours.
  ro.on_warning = [this](const std::string& w) {
    QMetaObject::invokeMethod(this, [this, m = QString::fromStdString(w)] { emit adapterWarning(m); }, Qt::QueuedConnection);
  };
  registry_ = std::make_unique<AdapterRegistry>(lm_->model->config(), ro);
  memory_paths_.clear();
}

QString EngineHost::uniqueAdapterName(const QString& stem) const {
  // Registry names: no ':' (it separates base and adapter in "model"), whitespace or controls.
  QString base = stem;
  base.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
  base = base.left(100);
  if (base.isEmpty()) base = QStringLiteral("adapter");
  QString name = base;
  for (int i = 2; registry_ && registry_->contains(name.toStdString()); ++i) name = base + QLatin1Char('-') + QString::number(i);
  return name;
}

AdapterLoad EngineHost::loadAdapter(const QString& path, bool preload) {
  if (!registry_) return {{}, tr("Load a model first.")};
  // A checkpoint has no adapter file the registry could reload: its adapter is held in memory.
  if (train::is_checkpoint_path(path.toStdString())) return serveCheckpoint(path);
  const QFileInfo fi(path);
  QString stem = fi.isDir() ? fi.fileName() : fi.completeBaseName();
  if (fi.fileName() == QStringLiteral("adapter_config.json") || fi.fileName() == QStringLiteral("adapter_model.safetensors"))
    stem = fi.dir().dirName();
  AdapterSpec spec;
  spec.name = uniqueAdapterName(stem).toStdString();
  spec.path = path.toStdString();
  spec.preload = preload;
  if (auto st = registry_->register_file(spec); !st) return {{}, QString::fromStdString(st.error().to_string())};
  emit adaptersChanged();
  return {QString::fromStdString(spec.name), {}};
}

AdapterLoad EngineHost::serveCheckpoint(const QString& checkpoint_dir) {
  if (!registry_) return {{}, tr("Load a model first.")};
  auto src = cli::load_adapter_source(checkpoint_dir.toStdString(), lm_->model->config());
  if (!src) return {{}, QString::fromStdString(src.error().to_string())};
  // "<run>-step<N>": the run is the training output_dir above checkpoints/ckpt-N.
  QDir d(QString::fromStdString(src->path));
  const QString ckpt = d.dirName();
  d.cdUp();
  if (d.dirName() == QStringLiteral("checkpoints")) d.cdUp();
  bool ok = false;
  const qlonglong step = ckpt.mid(ckpt.indexOf(QLatin1Char('-')) + 1).toLongLong(&ok);
  const QString name = uniqueAdapterName(ok ? QStringLiteral("%1-step%2").arg(d.dirName()).arg(step) : d.dirName());
  if (auto st = registry_->register_memory(name.toStdString(), std::move(src->adapter), std::move(src->meta)); !st)
    return {{}, QString::fromStdString(st.error().to_string())};
  memory_paths_[name] = checkpoint_dir;
  emit adaptersChanged();
  return {name, {}};
}

QString EngineHost::unloadAdapter(const QString& name) {
  if (!registry_) return tr("Load a model first.");
  if (auto st = registry_->unload(name.toStdString()); !st) return QString::fromStdString(st.error().to_string());
  emit adaptersChanged();
  return {};
}

QString EngineHost::preloadAdapter(const QString& name) {
  if (!registry_) return tr("Load a model first.");
  if (auto st = registry_->preload(name.toStdString()); !st) return QString::fromStdString(st.error().to_string());
  emit adaptersChanged();
  return {};
}

QString EngineHost::setMaxResidentAdapters(int n) {
  if (n < 1) return tr("The limit must be at least 1.");
  max_resident_ = n;
  QSettings().setValue(QStringLiteral("lora/max_resident"), n);
  if (registry_)
    if (auto st = registry_->set_max_resident(n); !st) return QString::fromStdString(st.error().to_string());
  emit adaptersChanged();
  return {};
}

QList<ChatAdapter> EngineHost::adapters() const {
  QList<ChatAdapter> out;
  if (!registry_) return out;
  for (const AdapterInfo& i : registry_->list()) {
    ChatAdapter a;
    a.name = QString::fromStdString(i.name);
    a.path = i.path.empty() ? memory_paths_.value(a.name) : QString::fromStdString(i.path);
    a.format = QString::fromStdString(i.format);
    a.scale = i.scale;
    a.resident = i.resident;
    a.in_use = i.in_use;
    for (const auto& w : i.warnings) a.warnings << QString::fromStdString(w);
    out.push_back(a);
  }
  return out;
}

}  // namespace cyllm::workbench

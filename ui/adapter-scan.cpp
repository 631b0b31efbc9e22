#include "ui/adapter-scan.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include "model/gguf-reader.h"

namespace cyllm::ui {

QList<DiskAdapter> scanAdapterFolder(const QString& dir) {
  QList<DiskAdapter> out;
  QDirIterator it(dir, {QStringLiteral("adapter_config.json"), QStringLiteral("*.gguf")}, QDir::Files,
                  QDirIterator::Subdirectories);
  while (it.hasNext()) {
    const QFileInfo fi(it.next());
    if (QDir(dir).relativeFilePath(fi.absoluteFilePath()).count(QLatin1Char('/')) > 2) continue;
    DiskAdapter a;
    a.peft = fi.fileName() == QLatin1String("adapter_config.json");
    a.modified = fi.lastModified();
    if (a.peft) {
      a.name = fi.dir().dirName();
      a.path = fi.absolutePath();
      QFile f(fi.absoluteFilePath());
      if (f.open(QIODevice::ReadOnly)) {
        const QJsonObject o = QJsonDocument::fromJson(f.read(1 << 20)).object();
        if (o.contains(QStringLiteral("r"))) a.rank = QString::number(o.value(QStringLiteral("r")).toInt());
        if (o.contains(QStringLiteral("lora_alpha"))) a.alpha = QString::number(o.value(QStringLiteral("lora_alpha")).toDouble());
        a.base = o.value(QStringLiteral("base_model_name_or_path")).toString();
      }
    } else {
      auto g = GgufFile::open(fi.absoluteFilePath().toStdString());
      if (!g) continue;                                                          // not a GGUF file at all
      if (g->get_string("general.type").value_or("") != "adapter") continue;  // a model, not a LoRA
      a.name = fi.completeBaseName();
      a.path = fi.absoluteFilePath();
      if (auto al = g->get_float("cyllm.lora.alpha")) a.alpha = QString::number(*al);
      else if (auto al2 = g->get_float("adapter.lora.alpha")) a.alpha = QString::number(*al2);
      a.base = QString::fromStdString(g->get_string("cyllm.base_model").value_or(g->get_string("general.architecture").value_or("")));
      for (const auto& t : g->tensors())  // lora_a is [in, rank] (ne[0] innermost): the rank is ne[1]
        if (t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".lora_a") == 0) {
          a.rank = QString::number(t.ne[1]);
          break;
        }
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace cyllm::ui

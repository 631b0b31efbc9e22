// What the LoRA manager lists from a folder: PEFT adapters (a folder holding adapter_config.json)
// and GGUF LoRA files (general.type = adapter), at most two levels deep, with what each file says
// about itself (rank, alpha, base model). GGUF files that are models or are not readable are left
// out. Only the small headers are read.
#pragma once

#include <QDateTime>
#include <QList>
#include <QString>

namespace cyllm::ui {

struct DiskAdapter {
  QString name;    // the folder (PEFT) or file stem (GGUF)
  bool peft = true;
  QString rank, alpha, base;  // "" when the file does not say
  QDateTime modified;
  QString path;    // the PEFT folder or the .gguf file
};

QList<DiskAdapter> scanAdapterFolder(const QString& dir);

}  // namespace cyllm::ui

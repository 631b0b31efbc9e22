#include "ui/lora-panel.h"

#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QEvent>
#include <QFileDialog>
#include <QFile>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "model/gguf-reader.h"

namespace cyllm::ui {

LoraPanel::LoraPanel(QWidget* parent) : QWidget(parent) {
  auto* h = new QHBoxLayout(this);
  disk_box_ = new QGroupBox(this);
  auto* dv = new QVBoxLayout(disk_box_);
  auto* fh = new QHBoxLayout();
  folder_ = new QLabel(disk_box_);
  folder_->setObjectName(QStringLiteral("folder"));
  choose_ = new QPushButton(disk_box_);
  rescan_ = new QPushButton(disk_box_);
  fh->addWidget(folder_, 1);
  fh->addWidget(choose_);
  fh->addWidget(rescan_);
  dv->addLayout(fh);
  disk_ = new QTableWidget(0, 7, disk_box_);
  disk_->setObjectName(QStringLiteral("adapters"));
  disk_->setSelectionBehavior(QAbstractItemView::SelectRows);
  disk_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  disk_->verticalHeader()->setVisible(false);
  disk_->horizontalHeader()->setStretchLastSection(true);
  dv->addWidget(disk_);
  auto* bh = new QHBoxLayout();
  load_ = new QPushButton(disk_box_);
  preload_ = new QPushButton(disk_box_);
  export_ = new QPushButton(disk_box_);
  merge_ = new QPushButton(disk_box_);
  for (QPushButton* b : {load_, preload_, export_, merge_}) {
    b->setEnabled(false);  // see the TODO in lora-panel.h
    bh->addWidget(b);
  }
  bh->addStretch();
  dv->addLayout(bh);
  h->addWidget(disk_box_, 3);

  loaded_box_ = new QGroupBox(this);
  auto* lv = new QVBoxLayout(loaded_box_);
  loaded_ = new QListWidget(loaded_box_);
  lv->addWidget(loaded_);
  limits_ = new QFormLayout();
  max_resident_ = new QSpinBox(loaded_box_);
  max_resident_->setRange(1, 64);
  max_resident_->setValue(QSettings().value(QStringLiteral("lora/max_resident"), 4).toInt());
  limits_->addRow(new QLabel(loaded_box_), max_resident_);
  lv->addLayout(limits_);
  unload_ = new QPushButton(loaded_box_);
  unload_->setEnabled(false);
  lv->addWidget(unload_);
  h->addWidget(loaded_box_, 1);

  connect(choose_, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Adapter folder"), dir_);
    if (!d.isEmpty()) setFolder(d);
  });
  connect(rescan_, &QPushButton::clicked, this, &LoraPanel::rescan);
  dir_ = QSettings().value(QStringLiteral("lora/dir"), QDir::home().filePath(QStringLiteral(".local/share/cyllm/adapters"))).toString();
  retranslateUi();
  rescan();
}

LoraPanel::~LoraPanel() {
  QSettings st;
  st.setValue(QStringLiteral("lora/dir"), dir_);
  st.setValue(QStringLiteral("lora/max_resident"), max_resident_->value());
}

void LoraPanel::retranslateUi() {
  disk_box_->setTitle(tr("Adapters on disk"));
  choose_->setText(tr("Folder…"));
  rescan_->setText(tr("Rescan"));
  disk_->setHorizontalHeaderLabels(
      {tr("Name"), tr("Format"), tr("Rank"), tr("Alpha"), tr("Base model"), tr("Modified"), tr("Path")});
  load_->setText(tr("Load"));
  preload_->setText(tr("Preload"));
  export_->setText(tr("Export…"));
  merge_->setText(tr("Merge into base…"));
  for (QPushButton* b : {load_, preload_, export_, merge_, unload_}) b->setToolTip(tr("Not available yet"));
  loaded_box_->setTitle(tr("Loaded in the engine"));
  if (auto* l = qobject_cast<QLabel*>(limits_->itemAt(0, QFormLayout::LabelRole)->widget())) l->setText(tr("Max resident"));
  unload_->setText(tr("Unload"));
  loaded_->clear();
  loaded_->addItem(tr("(none: the base model only)"));
  folder_->setText(dir_);
}

void LoraPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

void LoraPanel::setFolder(const QString& dir) {
  dir_ = dir;
  folder_->setText(dir_);
  rescan();
}

int LoraPanel::adapterCount() const { return disk_->rowCount(); }

void LoraPanel::rescan() {
  disk_->setRowCount(0);
  // PEFT: a folder holding adapter_config.json; GGUF LoRA: *.gguf files (two levels deep at most).
  QDirIterator it(dir_, {QStringLiteral("adapter_config.json"), QStringLiteral("*.gguf")}, QDir::Files,
                  QDirIterator::Subdirectories);
  disk_->setUpdatesEnabled(false);
  while (it.hasNext()) {
    const QFileInfo fi(it.next());
    if (QDir(dir_).relativeFilePath(fi.absoluteFilePath()).count(QLatin1Char('/')) > 2) continue;
    const bool peft = fi.fileName() == QLatin1String("adapter_config.json");
    // What the file says about itself (read here: both are small headers).
    QString rank, alpha, base;
    if (peft) {
      QFile f(fi.absoluteFilePath());
      if (f.open(QIODevice::ReadOnly)) {
        const QJsonObject o = QJsonDocument::fromJson(f.read(1 << 20)).object();
        if (o.contains(QStringLiteral("r"))) rank = QString::number(o.value(QStringLiteral("r")).toInt());
        if (o.contains(QStringLiteral("lora_alpha"))) alpha = QString::number(o.value(QStringLiteral("lora_alpha")).toDouble());
        base = o.value(QStringLiteral("base_model_name_or_path")).toString();
      }
    } else {
      auto g = GgufFile::open(fi.absoluteFilePath().toStdString());
      if (!g) continue;  // not a GGUF file at all
      if (g->get_string("general.type").value_or("") != "adapter") continue;  // a model, not a LoRA
      if (auto a = g->get_float("cyllm.lora.alpha")) alpha = QString::number(*a);
      else if (auto a2 = g->get_float("adapter.lora.alpha")) alpha = QString::number(*a2);
      base = QString::fromStdString(g->get_string("cyllm.base_model").value_or(g->get_string("general.architecture").value_or("")));
      for (const auto& t : g->tensors())  // lora_a is [in, rank] (ne[0] innermost): the rank is ne[1]
        if (t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".lora_a") == 0) {
          rank = QString::number(t.ne[1]);
          break;
        }
    }
    const int r = disk_->rowCount();
    disk_->insertRow(r);
    const QString cells[] = {peft ? fi.dir().dirName() : fi.completeBaseName(), peft ? tr("PEFT") : tr("GGUF LoRA"), rank,
                             alpha, base, fi.lastModified().toString(QStringLiteral("yyyy-MM-dd HH:mm")),
                             peft ? fi.absolutePath() : fi.absoluteFilePath()};
    for (int c = 0; c < 7; ++c) disk_->setItem(r, c, new QTableWidgetItem(cells[c]));
  }
  disk_->resizeColumnsToContents();
  disk_->setUpdatesEnabled(true);
}

}  // namespace cyllm::ui

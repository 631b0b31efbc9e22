#include "ui/lora-panel.h"

#include <memory>

#include <QAction>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStyle>
#include <QTableWidget>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>

#include "ui/row-table.h"
#include "cli/adapter-source.h"
#include "core/thread-pool.h"
#include "model/merge-lora.h"
#include "serve/adapter-registry.h"
#include "workbench/engine-host.h"

namespace cyllm::ui {

namespace {
QPushButton* makeButton(const char* name, QWidget* parent) {
  auto* b = new QPushButton(parent);
  b->setObjectName(QString::fromLatin1(name));
  return b;
}
}  // namespace

LoraPanel::LoraPanel(workbench::EngineHost* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
  auto* v = new QVBoxLayout(this);
  auto* h = new QHBoxLayout();
  v->addLayout(h, 1);
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
  disk_ = makeRowTable(7, QStringLiteral("adapters"), disk_box_);
  dv->addWidget(disk_);
  auto* bh = new QHBoxLayout();
  load_ = makeButton("load", disk_box_);
  preload_ = makeButton("preload", disk_box_);
  export_ = makeButton("export", disk_box_);
  merge_ = makeButton("merge", disk_box_);
  for (QPushButton* b : {load_, preload_, export_, merge_}) bh->addWidget(b);
  bh->addStretch();
  dv->addLayout(bh);
  h->addWidget(disk_box_, 3);
  // Export: which format, from a menu on the button.
  auto* menu = new QMenu(export_);
  menu->addAction(QString(), this, [this] { chooseExport(false); })->setObjectName(QStringLiteral("export_peft"));
  menu->addAction(QString(), this, [this] { chooseExport(true); })->setObjectName(QStringLiteral("export_gguf"));
  export_->setMenu(menu);

  loaded_box_ = new QGroupBox(this);
  auto* lv = new QVBoxLayout(loaded_box_);
  loaded_ = makeRowTable(6, QStringLiteral("loaded"), loaded_box_);
  lv->addWidget(loaded_);
  limits_ = new QFormLayout();
  max_resident_ = new QSpinBox(loaded_box_);
  max_resident_->setObjectName(QStringLiteral("max_resident"));
  max_resident_->setRange(1, 64);
  max_resident_->setValue(engine_ ? engine_->maxResidentAdapters()
                                  : QSettings().value(QStringLiteral("lora/max_resident"), 4).toInt());
  limits_->addRow(new QLabel(loaded_box_), max_resident_);
  lv->addLayout(limits_);
  auto* uh = new QHBoxLayout();
  unload_ = makeButton("unload", loaded_box_);
  make_resident_ = makeButton("make_resident", loaded_box_);
  uh->addWidget(make_resident_);
  uh->addWidget(unload_);
  lv->addLayout(uh);
  h->addWidget(loaded_box_, 2);

  auto* sh = new QHBoxLayout();
  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("status"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  busy_ = new QProgressBar(this);
  busy_->setObjectName(QStringLiteral("busy"));
  busy_->setRange(0, 0);  // indeterminate: a merge reports no steps
  busy_->setMaximumWidth(200);
  busy_->hide();
  sh->addWidget(status_, 1);
  sh->addWidget(busy_);
  v->addLayout(sh);

  refresh_ = new QTimer(this);
  refresh_->setInterval(1000);
  connect(refresh_, &QTimer::timeout, this, &LoraPanel::refreshLoaded);
  connect(choose_, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Adapter folder"), dir_);
    if (!d.isEmpty()) setFolder(d);
  });
  connect(rescan_, &QPushButton::clicked, this, &LoraPanel::rescan);
  connect(load_, &QPushButton::clicked, this, [this] { loadAdapter(selectedDiskPath(), false); });
  connect(preload_, &QPushButton::clicked, this, [this] { loadAdapter(selectedDiskPath(), true); });
  connect(merge_, &QPushButton::clicked, this, &LoraPanel::chooseMerge);
  connect(unload_, &QPushButton::clicked, this, [this] { unloadAdapter(selectedLoadedName()); });
  connect(make_resident_, &QPushButton::clicked, this, [this] {
    if (!engine_) return;
    const QString err = engine_->preloadAdapter(selectedLoadedName());
    if (!err.isEmpty()) setStatus(err, true);
  });
  connect(max_resident_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int n) { setMaxResident(n); });
  connect(disk_, &QTableWidget::itemSelectionChanged, this, &LoraPanel::updateButtons);
  connect(loaded_, &QTableWidget::itemSelectionChanged, this, &LoraPanel::updateButtons);
  if (engine_) {
    connect(engine_, &workbench::EngineHost::adaptersChanged, this, &LoraPanel::refreshLoaded);
    connect(engine_, &workbench::EngineHost::modelLoaded, this, &LoraPanel::updateButtons);
    connect(engine_, &workbench::EngineHost::adapterWarning, this, [this](const QString& m) { setStatus(m, true); });
  }
  dir_ = QSettings().value(QStringLiteral("lora/dir"), QDir::home().filePath(QStringLiteral(".local/share/cyllm/adapters"))).toString();
  retranslateUi();
  rescan();
}

LoraPanel::~LoraPanel() {
  if (merge_thread_) merge_thread_->wait();  // a merge writes a temporary file and renames it: let it finish
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
  load_->setToolTip(tr("Register the adapter with the engine: the chat and the server can use it by name"));
  preload_->setText(tr("Preload"));
  preload_->setToolTip(tr("Register it and keep it in memory now, evicting the least recently used idle adapter"));
  export_->setText(tr("Export…"));
  export_->menu()->actions().at(0)->setText(tr("As a PEFT folder…"));
  export_->menu()->actions().at(1)->setText(tr("As a GGUF LoRA file…"));
  merge_->setText(tr("Merge into base…"));
  merge_->setToolTip(tr("Write the loaded model with this adapter folded into its weights, as a new GGUF file"));
  for (int i = 0; i < disk_->rowCount(); ++i)
    disk_->item(i, 1)->setText(disk_rows_.value(i).peft ? tr("PEFT") : tr("GGUF LoRA"));
  loaded_box_->setTitle(tr("Loaded in the engine"));
  loaded_->setHorizontalHeaderLabels({tr("Name"), tr("Format"), tr("Scale"), tr("In memory"), tr("In use"), tr("Source")});
  if (auto* l = qobject_cast<QLabel*>(limits_->itemAt(0, QFormLayout::LabelRole)->widget())) l->setText(tr("Max resident"));
  max_resident_->setToolTip(tr("How many file-backed adapters stay in memory; idle ones beyond this are evicted"));
  unload_->setText(tr("Unload"));
  make_resident_->setText(tr("Keep in memory"));
  folder_->setText(dir_);
  refreshLoaded();
  updateButtons();
}

void LoraPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

void LoraPanel::showEvent(QShowEvent* e) {
  refreshLoaded();
  refresh_->start();
  QWidget::showEvent(e);
}

void LoraPanel::hideEvent(QHideEvent* e) {
  refresh_->stop();
  QWidget::hideEvent(e);
}

void LoraPanel::setFolder(const QString& dir) {
  dir_ = dir;
  folder_->setText(dir_);
  rescan();
}

int LoraPanel::adapterCount() const { return disk_->rowCount(); }

QString LoraPanel::statusText() const { return status_->text(); }

void LoraPanel::setStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void LoraPanel::rescan() {
  disk_rows_ = scanAdapterFolder(dir_);
  disk_->setUpdatesEnabled(false);
  disk_->setRowCount(0);
  for (const DiskAdapter& a : disk_rows_) {
    const int r = disk_->rowCount();
    disk_->insertRow(r);
    const QString cells[] = {a.name, a.peft ? tr("PEFT") : tr("GGUF LoRA"), a.rank, a.alpha, a.base,
                             a.modified.toString(QStringLiteral("yyyy-MM-dd HH:mm")), a.path};
    for (int c = 0; c < 7; ++c) disk_->setItem(r, c, new QTableWidgetItem(cells[c]));
  }
  disk_->resizeColumnsToContents();
  disk_->setUpdatesEnabled(true);
  updateButtons();
}

void LoraPanel::refreshLoaded() {
  const QString keep = selectedLoadedName();
  const QList<workbench::ChatAdapter> list = engine_ ? engine_->adapters() : QList<workbench::ChatAdapter>{};
  loaded_->setUpdatesEnabled(false);
  loaded_->setRowCount(0);
  for (const workbench::ChatAdapter& a : list) {
    const int r = loaded_->rowCount();
    loaded_->insertRow(r);
    const QString format = a.format == QLatin1String("memory") ? tr("checkpoint") : a.format.toUpper();
    const QString cells[] = {a.name, format, QString::number(a.scale), a.resident ? tr("yes") : tr("no"),
                             QString::number(a.in_use), a.path};
    for (int c = 0; c < 6; ++c) loaded_->setItem(r, c, new QTableWidgetItem(cells[c]));
    if (!a.warnings.isEmpty()) {  // provenance: marked, with the messages on hover
      loaded_->item(r, 0)->setIcon(style()->standardIcon(QStyle::SP_MessageBoxWarning));
      for (int c = 0; c < 6; ++c) loaded_->item(r, c)->setToolTip(a.warnings.join(QLatin1Char('\n')));
    }
    if (a.name == keep) loaded_->selectRow(r);
  }
  loaded_->resizeColumnsToContents();
  loaded_->setUpdatesEnabled(true);
  updateButtons();
}

void LoraPanel::updateButtons() {
  const bool model = engine_ && engine_->adapterRegistry() != nullptr;
  const bool disk = !selectedDiskPath().isEmpty();
  const QString need = model ? QString() : tr("Load a model first");
  for (QPushButton* b : {load_, preload_, export_, merge_}) {
    b->setEnabled(model && disk && !(b == merge_ && merging()));
    if (!model) b->setToolTip(need);
  }
  unload_->setEnabled(model && !selectedLoadedName().isEmpty());
  make_resident_->setEnabled(unload_->isEnabled());
}

QString LoraPanel::selectedDiskPath() const {
  const auto rows = disk_->selectionModel()->selectedRows();
  return rows.isEmpty() ? QString() : disk_rows_.value(rows.first().row()).path;
}

QString LoraPanel::selectedLoadedName() const {
  const auto rows = loaded_->selectionModel()->selectedRows();
  return rows.isEmpty() ? QString() : loaded_->item(rows.first().row(), 0)->text();
}

QString LoraPanel::loadAdapter(const QString& path, bool preload) {
  if (!engine_) return tr("Load a model first.");
  const workbench::AdapterLoad r = engine_->loadAdapter(path, preload);
  if (!r.ok()) {
    setStatus(tr("Cannot load %1: %2").arg(path, r.error), true);
    return r.error;
  }
  const auto list = engine_->adapters();
  for (const auto& a : list)
    if (a.name == r.name && !a.warnings.isEmpty()) {
      setStatus(tr("Loaded %1, with a warning: %2").arg(r.name, a.warnings.join(QLatin1Char(' '))), true);
      return {};
    }
  setStatus(tr("Loaded %1. Chat and server requests can use it by this name.").arg(r.name), false);
  return {};
}

QString LoraPanel::unloadAdapter(const QString& name) {
  if (!engine_) return tr("Load a model first.");
  const QString err = engine_->unloadAdapter(name);
  setStatus(err.isEmpty() ? tr("Unloaded %1.").arg(name) : err, !err.isEmpty());
  return err;
}

QString LoraPanel::setMaxResident(int n) {
  if (max_resident_->value() != n) {
    max_resident_->setValue(n);  // valueChanged calls this again with the box in step
    return {};
  }
  if (!engine_) return {};
  const QString err = engine_->setMaxResidentAdapters(n);
  if (!err.isEmpty()) setStatus(err, true);
  return err;
}

QString LoraPanel::exportAdapter(const QString& path, const QString& out, bool gguf) {
  const LlamaModel* m = engine_ ? engine_->model() : nullptr;
  if (!m) return tr("Load the adapter's base model first: the export checks the adapter against it.");
  auto src = cli::load_adapter_source(path.toStdString(), m->config());
  Status st = src ? (gguf ? save_gguf_adapter(out.toStdString(), src->adapter, src->meta, m->config())
                          : save_peft_adapter(out.toStdString(), src->adapter, src->meta, m->config()))
                  : Status(src.error());
  if (!st) {
    const QString err = QString::fromStdString(st.error().to_string());
    setStatus(tr("Export failed: %1").arg(err), true);
    return err;
  }
  setStatus(tr("Exported %1 to %2.").arg(QFileInfo(path).fileName(), out), false);
  if (QFileInfo(out).absolutePath().startsWith(QDir(dir_).absolutePath())) rescan();
  return {};
}

void LoraPanel::chooseExport(bool gguf) {
  const QString path = selectedDiskPath();
  if (path.isEmpty()) return;
  const QString suggested = QDir(dir_).filePath(QFileInfo(path).completeBaseName() + (gguf ? QStringLiteral(".gguf") : QStringLiteral("-peft")));
  const QString out = gguf ? QFileDialog::getSaveFileName(this, tr("Export as GGUF LoRA"), suggested, tr("GGUF files (*.gguf)"))
                           : QFileDialog::getExistingDirectory(this, tr("Export as PEFT: choose an empty folder"), dir_);
  if (!out.isEmpty()) exportAdapter(path, out, gguf);
}

QString LoraPanel::startMerge(const QString& path, const QString& out, const QString& type) {
  if (merge_thread_) return tr("A merge is already running.");
  if (!engine_ || !engine_->model()) return tr("Load the base model first: the adapter is merged into it.");
  MergeOptions opts;
  if (!parse_merge_type(type.toStdString(), &opts.type)) return tr("Unknown storage type %1.").arg(type);
  const std::string base = engine_->modelPath().toStdString(), adapter = path.toStdString(), dest = out.toStdString();
  auto result = std::make_shared<QString>();  // "" or the error; written by the worker only
  auto notes = std::make_shared<QStringList>();
  merge_thread_ = QThread::create([=] {
    auto g = GgufFile::open(base);
    auto cfg = g ? ModelConfig::from_gguf(*g) : Result<ModelConfig>(g.error());
    if (!cfg) return void(*result = QString::fromStdString(cfg.error().to_string()));
    auto src = cli::load_adapter_source(adapter, *cfg);
    if (!src) return void(*result = QString::fromStdString(src.error().to_string()));
    if (std::string w = adapter_provenance_mismatch(src->adapter.name, src->meta.provenance, cli::gguf_base_provenance(*g)); !w.empty())
      *notes << QString::fromStdString(w);
    ThreadPool pool(0);
    auto r = merge_lora(*g, src->adapter, dest, opts, &pool);
    if (!r) return void(*result = QString::fromStdString(r.error().to_string()));
    for (const auto& n : r->notes) *notes << QString::fromStdString(n);
    if (r->update_norm > 0 && r->rounding_norm > 0.5 * r->update_norm)
      *notes << tr("Storing the merged weights as %1 rounds away much of the adapter's update; use f16.")
                    .arg(QString::fromLatin1(merge_type_name(opts.type)));
  });
  connect(merge_thread_, &QThread::finished, this, [this, result, notes, out] {
    merge_thread_->deleteLater();
    merge_thread_ = nullptr;
    busy_->hide();
    if (result->isEmpty())
      setStatus(tr("Merged into %1.").arg(out) + (notes->isEmpty() ? QString() : QLatin1Char(' ') + notes->join(QLatin1Char(' '))),
                !notes->isEmpty());
    else
      setStatus(tr("Merge failed: %1").arg(*result), true);
    updateButtons();
    emit mergeFinished(*result);
  });
  busy_->show();
  setStatus(tr("Merging %1 into %2…").arg(QFileInfo(path).fileName(), engine_->modelName()), false);
  merge_thread_->start();
  updateButtons();
  return {};
}

void LoraPanel::chooseMerge() {
  const QString path = selectedDiskPath();
  if (path.isEmpty() || !engine_) return;
  const QString suggested = QFileInfo(engine_->modelPath()).absoluteDir().filePath(
      QFileInfo(engine_->modelPath()).completeBaseName() + QLatin1Char('+') + QFileInfo(path).completeBaseName() + QStringLiteral(".gguf"));
  const QString out = QFileDialog::getSaveFileName(this, tr("Merged model"), suggested, tr("GGUF files (*.gguf)"));
  if (!out.isEmpty()) {
    const QString err = startMerge(path, out);
    if (!err.isEmpty()) setStatus(err, true);
  }
}

}  // namespace cyllm::ui

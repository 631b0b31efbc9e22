#include "ui/checkpoint-list.h"

#include <QDateTime>
#include <QDir>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QStyle>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/row-table.h"
#include "train/checkpoint.h"

namespace cyllm::ui {

namespace {
constexpr int kBrokenRole = Qt::UserRole + 1;
}

CheckpointList::CheckpointList(QWidget* parent) : QGroupBox(parent) {
  auto* v = new QVBoxLayout(this);
  table_ = makeRowTable(6, QStringLiteral("checkpoints"), this);
  v->addWidget(table_);
  empty_ = new QLabel(this);
  empty_->setWordWrap(true);
  v->addWidget(empty_);
  auto* h = new QHBoxLayout();
  resume_ = new QPushButton(this);
  resume_->setObjectName(QStringLiteral("resume_from"));
  serve_ = new QPushButton(this);
  serve_->setObjectName(QStringLiteral("serve_checkpoint"));
  h->addWidget(resume_);
  h->addWidget(serve_);
  h->addStretch();
  v->addLayout(h);
  connect(table_, &QTableWidget::itemSelectionChanged, this, &CheckpointList::updateButtons);
  connect(resume_, &QPushButton::clicked, this, [this] {
    if (const QString d = selectedDir(); !d.isEmpty()) emit resumeRequested(d);
  });
  connect(serve_, &QPushButton::clicked, this, [this] {
    if (const QString d = selectedDir(); !d.isEmpty()) emit serveRequested(d);
  });
  retranslateUi();
}

void CheckpointList::retranslateUi() {
  setTitle(tr("Checkpoints"));
  table_->setHorizontalHeaderLabels({tr("Step"), tr("Loss"), tr("Eval loss"), tr("Written"), tr("Size"), tr("Notes")});
  resume_->setText(tr("Resume from here"));
  resume_->setToolTip(tr("Queue a new job that continues training from this checkpoint, in a folder of its own"));
  serve_->setText(tr("Use as adapter"));
  serve_->setToolTip(tr("Load this checkpoint's adapter into the engine: the chat and the server can use it at once"));
  refresh();
}

void CheckpointList::setRun(const QString& output_dir) {
  if (output_dir == run_) return refresh();
  run_ = output_dir;
  refresh();
}

int CheckpointList::count() const { return table_->rowCount(); }

QString CheckpointList::selectedDir() const {
  const auto rows = table_->selectionModel()->selectedRows();
  if (rows.isEmpty()) return {};
  const QTableWidgetItem* it = table_->item(rows.first().row(), 0);
  return it->data(kBrokenRole).toBool() ? QString() : it->data(Qt::UserRole).toString();  // broken ones: none
}

bool CheckpointList::selectStep(qint64 step) {
  for (int r = 0; r < table_->rowCount(); ++r)
    if (table_->item(r, 0)->text().toLongLong() == step) {
      table_->selectRow(r);
      return true;
    }
  return false;
}

void CheckpointList::refresh() {
  const QString keep = table_->selectionModel() ? selectedDir() : QString();
  table_->setRowCount(0);
  const auto rows = run_.isEmpty() ? std::vector<CheckpointSummary>{}
                                   : CheckpointStore(QDir(run_).filePath(QStringLiteral("checkpoints")).toStdString()).list();
  // The best eval loss among the usable ones is marked.
  const CheckpointSummary* best = nullptr;
  for (const auto& c : rows)
    if (c.problem.empty() && c.state.eval_loss && (!best || *c.state.eval_loss < *best->state.eval_loss)) best = &c;
  const QLocale loc;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {  // newest first
    const CheckpointSummary& c = *it;
    const int r = table_->rowCount();
    table_->insertRow(r);
    const bool broken = !c.problem.empty();
    QString notes = broken ? QString::fromStdString(c.problem) : (&c == best ? tr("best eval loss") : QString());
    const QString cells[] = {QString::number(c.state.step),
                             broken ? QString() : QString::number(c.state.loss, 'f', 4),
                             c.state.eval_loss && !broken ? QString::number(*c.state.eval_loss, 'f', 4) : QString(),
                             c.written_unix_ms ? QDateTime::fromMSecsSinceEpoch(c.written_unix_ms).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QString(),
                             loc.formattedDataSize(static_cast<qint64>(c.bytes)), notes};
    for (int col = 0; col < 6; ++col) table_->setItem(r, col, new QTableWidgetItem(cells[col]));
    table_->item(r, 0)->setData(Qt::UserRole, QString::fromStdString(c.dir));
    table_->item(r, 0)->setData(kBrokenRole, broken);
    if (broken) table_->item(r, 0)->setIcon(style()->standardIcon(QStyle::SP_MessageBoxWarning));
    if (QString::fromStdString(c.dir) == keep) table_->selectRow(r);
  }
  table_->resizeColumnsToContents();
  empty_->setVisible(rows.empty());
  empty_->setText(run_.isEmpty() ? tr("Select a job to see its checkpoints.")
                                 : tr("No checkpoints yet in %1.").arg(QDir(run_).filePath(QStringLiteral("checkpoints"))));
  updateButtons();
}

void CheckpointList::updateButtons() {
  const bool any = !selectedDir().isEmpty();
  resume_->setEnabled(any);
  serve_->setEnabled(any);
}

}  // namespace cyllm::ui

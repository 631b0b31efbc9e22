#include "ui/datasets-panel.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QThread>
#include <QValueAxis>
#include <QVBoxLayout>

#include "ui/row-table.h"
#include "train/dataset-render.h"
#include "workbench/engine-host.h"

namespace cyllm::ui {

DatasetsPanel::DatasetsPanel(workbench::EngineHost* engine, QWidget* parent) : QWidget(parent), engine_(engine) {
  auto* v = new QVBoxLayout(this);
  auto* top = new QHBoxLayout();
  open_ = new QPushButton(this);
  open_->setObjectName(QStringLiteral("open"));
  path_label_ = new QLabel(this);
  path_label_->setObjectName(QStringLiteral("path"));
  path_label_->setWordWrap(true);
  path_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // long paths must not widen the window
  use_model_ = new QCheckBox(this);
  use_model_->setChecked(true);
  cutoff_label_ = new QLabel(this);
  cutoff_ = new QSpinBox(this);
  cutoff_->setRange(0, 1 << 20);
  cutoff_->setValue(QSettings().value(QStringLiteral("datasets/cutoff"), 2048).toInt());
  top->addWidget(open_);
  top->addWidget(path_label_, 1);
  top->addWidget(use_model_);
  top->addWidget(cutoff_label_);
  top->addWidget(cutoff_);
  v->addLayout(top);

  auto* split = new QSplitter(Qt::Vertical, this);
  v->addWidget(split, 1);
  auto* upper = new QWidget(split);
  auto* uh = new QHBoxLayout(upper);
  uh->setContentsMargins(0, 0, 0, 0);
  summary_box_ = new QGroupBox(upper);
  summary_form_ = new QFormLayout(summary_box_);
  format_ = new QLabel(summary_box_);
  format_->setObjectName(QStringLiteral("format"));
  schema_ = new QLabel(summary_box_);
  schema_->setObjectName(QStringLiteral("schema"));
  rows_ = new QLabel(summary_box_);
  valid_ = new QLabel(summary_box_);
  problem_count_ = new QLabel(summary_box_);
  tokens_ = new QLabel(summary_box_);
  tokens_->setWordWrap(true);
  for (QLabel* l : {format_, schema_, rows_, valid_, problem_count_, tokens_}) summary_form_->addRow(new QLabel(summary_box_), l);
  uh->addWidget(summary_box_, 1);
  chart_ = new QChartView(upper);
  chart_->setRenderHint(QPainter::Antialiasing);
  chart_->chart()->setAnimationOptions(QChart::NoAnimation);
  chart_->setMinimumHeight(260);
  uh->addWidget(chart_, 2);

  auto* lower = new QSplitter(Qt::Horizontal, split);
  problems_box_ = new QGroupBox(lower);
  auto* pv = new QVBoxLayout(problems_box_);
  problems_ = makeRowTable(4, QStringLiteral("problems"), problems_box_);
  pv->addWidget(problems_);
  preview_box_ = new QGroupBox(lower);
  auto* rv = new QVBoxLayout(preview_box_);
  raw_ = new QPlainTextEdit(preview_box_);
  raw_->setObjectName(QStringLiteral("raw"));
  raw_->setReadOnly(true);
  rendered_ = new QTextBrowser(preview_box_);
  rendered_->setObjectName(QStringLiteral("rendered"));
  rv->addWidget(raw_, 1);
  rv->addWidget(rendered_, 1);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 2);

  connect(open_, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(
        this, tr("Open dataset"), QSettings().value(QStringLiteral("datasets/last_dir")).toString(),
        tr("Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)"));
    if (p.isEmpty()) return;
    QSettings().setValue(QStringLiteral("datasets/last_dir"), QFileInfo(p).absolutePath());
    openDataset(p);
  });
  connect(problems_, &QTableWidget::currentCellChanged, this, [this](int row, int, int, int) { showProblem(row); });
  retranslateUi();
  showResult();
}

DatasetsPanel::~DatasetsPanel() {
  QSettings().setValue(QStringLiteral("datasets/cutoff"), cutoff_->value());
  for (auto& t : workers_)
    if (t) {
      t->wait();  // workers hold only shared state, but must not outlive the app
      delete t;   // its finished() handler, queued to this panel, is dropped with the panel
    }
}

template <class Work, class Done>
void DatasetsPanel::runInBackground(Work work, Done done) {
  QThread* t = QThread::create(std::move(work));
  workers_.append(t);
  // finished() is emitted on the worker; `this` as context runs `done` queued on the GUI thread.
  connect(t, &QThread::finished, this, [this, t, done] {
    workers_.removeAll(t);
    t->deleteLater();
    done();
  }, Qt::QueuedConnection);
  t->start();
}

void DatasetsPanel::retranslateUi() {
  open_->setText(tr("Open dataset…"));
  use_model_->setText(tr("Count tokens with the loaded model"));
  cutoff_label_->setText(tr("Cutoff (tokens):"));
  summary_box_->setTitle(tr("Summary"));
  const QString labels[] = {tr("Format"), tr("Schema"), tr("Rows"), tr("Valid rows"), tr("Problems"), tr("Token lengths")};
  for (int i = 0; i < 6; ++i)
    if (auto* l = qobject_cast<QLabel*>(summary_form_->itemAt(i, QFormLayout::LabelRole)->widget())) l->setText(labels[i]);
  problems_box_->setTitle(tr("Problems"));
  problems_->setHorizontalHeaderLabels({tr("Row"), tr("Line"), tr("Field"), tr("Reason")});
  preview_box_->setTitle(tr("Row (raw, and rendered with the trained part highlighted)"));
  if (path_.isEmpty()) path_label_->setText(tr("No dataset open. JSONL, JSON, CSV and Parquet are read; the format is detected from the content."));
  showResult();
}

void DatasetsPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

void DatasetsPanel::openDataset(const QString& path) {
  if (busy()) return;
  path_ = path;
  path_label_->setText(tr("Validating %1…").arg(QFileInfo(path).fileName()));
  const std::string p = path.toStdString();
  const std::string model = use_model_->isChecked() && engine_->hasModel() ? engine_->modelPath().toStdString() : std::string();
  const uint64_t cutoff = static_cast<uint64_t>(cutoff_->value());
  auto result = std::make_shared<Result<train::ValidationResult>>(make_error(ErrorCode::kInternal, "not run"));
  auto rm = std::make_shared<std::shared_ptr<train::RenderModel>>();
  runInBackground(
      [p, model, cutoff, result, rm] {
        train::ValidationOptions opts;
        if (!model.empty()) {
          auto m = train::RenderModel::from_gguf(model);
          if (m) {
            *rm = std::make_shared<train::RenderModel>(std::move(m.value()));
            opts.model = rm->get();
            opts.cutoff = cutoff;
          }
        }
        *result = train::validate_file(p, opts);
      },
      [this, result, rm, cutoff, path] {
        path_label_->setText(path);
        render_model_ = *rm;
        cutoff_used_ = render_model_ ? cutoff : 0;
        if (*result) {
          result_ = std::make_shared<train::ValidationResult>(std::move(result->value()));
          error_.clear();
        } else {
          result_.reset();
          error_ = QString::fromStdString(result->error().to_string());
        }
        raw_->clear();
        rendered_->clear();
        showResult();
        emit validated(result_ != nullptr);
      });
}

void DatasetsPanel::setCutoff(int tokens) { cutoff_->setValue(tokens); }

QString DatasetsPanel::formatText() const { return format_->text(); }
QString DatasetsPanel::schemaText() const { return schema_->text(); }

void DatasetsPanel::showResult() {
  problems_->setRowCount(0);
  if (!result_) {
    for (QLabel* l : {format_, schema_, rows_, valid_, problem_count_, tokens_}) l->setText(QStringLiteral("—"));
    if (!error_.isEmpty()) tokens_->setText(error_);
    showHistogram();
    return;
  }
  const auto& r = *result_;
  format_->setText(QString::fromUtf8(train::format_name(r.format).data(), int(train::format_name(r.format).size())));
  const QString schema = QString::fromUtf8(train::schema_name(r.schema).data(), int(train::schema_name(r.schema).size()));
  schema_->setText(r.schema_detected ? schema : tr("%1 (assumed: no row had a known field)").arg(schema));
  rows_->setText(QString::number(r.rows));
  valid_->setText(QString::number(r.valid_rows));
  problem_count_->setText(r.problems.size() < r.problem_count
                              ? tr("%1 (first %2 listed)").arg(r.problem_count).arg(r.problems.size())
                              : QString::number(r.problem_count));
  if (r.tokenized && r.token_lengths.count) {
    const auto& h = r.token_lengths;
    tokens_->setText(tr("min %1, max %2, mean %3 (cutoff %4)")
                         .arg(h.min)
                         .arg(h.max)
                         .arg(double(h.total) / double(h.count), 0, 'f', 1)
                         .arg(cutoff_used_));
  } else {
    tokens_->setText(tr("not counted (load a model to count tokens)"));
  }
  problems_->setUpdatesEnabled(false);
  problems_->setRowCount(static_cast<int>(r.problems.size()));
  for (int i = 0; i < problems_->rowCount(); ++i) {
    const auto& p = r.problems[size_t(i)];
    auto* row = new QTableWidgetItem();
    row->setData(Qt::DisplayRole, QVariant::fromValue<qulonglong>(p.row));
    auto* line = new QTableWidgetItem(p.line ? QString::number(p.line) : QString());
    problems_->setItem(i, 0, row);
    problems_->setItem(i, 1, line);
    problems_->setItem(i, 2, new QTableWidgetItem(p.field.empty() ? tr("(row)") : QString::fromStdString(p.field)));
    problems_->setItem(i, 3, new QTableWidgetItem(QString::fromStdString(p.reason)));
  }
  problems_->resizeColumnsToContents();
  problems_->setUpdatesEnabled(true);
  showHistogram();
}

int DatasetsPanel::histogramBars() const {
  int n = 0;
  for (auto* s : chart_->chart()->series())
    if (auto* bars = qobject_cast<QBarSeries*>(s))
      for (auto* set : bars->barSets())
        for (int i = 0; i < set->count(); ++i) n += set->at(i) > 0;
  return n;
}

int DatasetsPanel::histogramOverCutoff() const {
  for (auto* s : chart_->chart()->series())
    if (auto* bars = qobject_cast<QBarSeries*>(s); bars && bars->count() == 2) return int(bars->barSets().at(1)->sum());
  return 0;
}

void DatasetsPanel::showHistogram() {
  QChart* c = chart_->chart();
  c->removeAllSeries();
  for (auto* a : c->axes()) {
    c->removeAxis(a);
    delete a;
  }
  c->setTitle(tr("Token lengths (rows per bucket)"));
  if (!result_ || !result_->tokenized || result_->token_lengths.count == 0) {
    c->setTitle(tr("Token lengths: load a model and validate to see them"));
    return;
  }
  const auto& h = result_->token_lengths;
  // Buckets are powers of two; those whose upper bound passes the cutoff are drawn in the
  // "over the cutoff" set (red), so the cutoff shows as where the colour changes.
  size_t first = h.buckets.size(), last = 0;
  for (size_t k = 0; k < h.buckets.size(); ++k)
    if (h.buckets[k]) first = std::min(first, k), last = k;
  if (first > last) return;
  auto* within = new QBarSet(tr("within cutoff"));
  auto* over = new QBarSet(tr("over cutoff (%1)").arg(cutoff_used_));
  within->setColor(QColor(70, 130, 180));
  over->setColor(QColor(200, 60, 60));
  QStringList cats;
  double ymax = 1;
  for (size_t k = first; k <= last; ++k) {
    const uint64_t upper = 1ull << k;
    cats << QStringLiteral("≤%1").arg(upper);

    const double n = double(h.buckets[k]);
    const bool is_over = cutoff_used_ && upper > cutoff_used_;
    *within << (is_over ? 0 : n);
    *over << (is_over ? n : 0);
    ymax = std::max(ymax, n);
  }
  auto* series = new QBarSeries();
  series->append(within);
  series->append(over);
  series->setBarWidth(0.9);
  c->addSeries(series);
  auto* ax = new QBarCategoryAxis();
  ax->append(cats);
  ax->setTitleText(tr("tokens per row"));
  auto* ay = new QValueAxis();
  ay->setRange(0, ymax * 1.1);
  ay->setLabelFormat(QStringLiteral("%d"));
  ay->setTitleText(tr("rows"));
  c->addAxis(ax, Qt::AlignBottom);
  c->addAxis(ay, Qt::AlignLeft);
  series->attachAxis(ax);
  series->attachAxis(ay);
  c->legend()->setVisible(true);
  c->legend()->setAlignment(Qt::AlignBottom);
}

void DatasetsPanel::showProblem(int table_row) {
  if (!result_ || table_row < 0 || table_row >= int(result_->problems.size())) return;
  showRow(result_->problems[size_t(table_row)].row);
}

QString DatasetsPanel::rowPreview() const { return raw_->toPlainText(); }

void DatasetsPanel::showRow(uint64_t row) {
  if (busy() || !result_) return;
  raw_->setPlainText(tr("Reading row %1…").arg(row));
  rendered_->clear();
  const std::string p = path_.toStdString();
  const auto format = result_->format;
  const auto schema = result_->schema;
  auto rm = render_model_;
  auto raw = std::make_shared<std::string>();
  auto html = std::make_shared<QString>();
  runInBackground(
      [p, format, schema, row, rm, raw, html] {
        auto f = train::DatasetFile::open(p);
        if (!f) {
          *raw = f.error().to_string();
          return;
        }
        Status read = train::read_rows(format, f->data(), [&](train::RawRow& r) {
          if (r.row != row) return true;
          *raw = r.error.empty() ? r.value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                                 : "(" + r.error + ")";
          return false;
        });
        if (!read && raw->empty()) *raw = read.error().to_string();
        if (!rm) return;
        Status rendered = train::for_each_conversation(format, schema, {}, f->data(), [&](const train::RawRow& r, bool valid, const train::Conversation& c) {
          if (r.row != row) return true;
          if (!valid) return false;
          auto rr = train::render_conversation(*rm, c, train::TrainOn::kAssistant);
          if (!rr) return false;
          // Spans are byte offsets: cut the UTF-8 bytes, then convert each piece.
          QString out;
          size_t at = 0;
          auto piece = [&](size_t a, size_t b) { return QString::fromUtf8(rr->text.data() + a, int(b - a)).toHtmlEscaped(); };
          for (const auto& [a, b] : rr->trained) {
            out += piece(at, a);
            out += QStringLiteral("<span style=\"background:#c8f0c8\">") + piece(a, b) + QStringLiteral("</span>");
            at = b;
          }
          out += piece(at, rr->text.size());
          *html = QStringLiteral("<pre style=\"white-space:pre-wrap\">") + out + QStringLiteral("</pre>");
          return false;
        });
        if (!rendered && html->isEmpty()) *html = QString::fromStdString(rendered.error().to_string()).toHtmlEscaped();
      },
      [this, raw, html] {
        raw_->setPlainText(QString::fromStdString(*raw));
        if (!html->isEmpty()) rendered_->setHtml(*html);
        else rendered_->setPlainText(render_model_ ? tr("This row cannot be rendered (see its problem).")
                                                   : tr("Load a model to see the row rendered through its chat template."));
        emit previewReady();
      });
}

}  // namespace cyllm::ui

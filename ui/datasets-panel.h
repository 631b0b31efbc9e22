// The Datasets panel: open a dataset file and see its detected format and schema, statistics, a
// token-length histogram (Qt Charts) with the cutoff marked, every problem (row, field, reason),
// the raw row of a clicked problem and, with a model loaded, the row rendered through the chat
// template with the trained spans highlighted. Validation and rendering run on worker threads
// (engine/train/dataset-validate.h, dataset-render.h); results come back queued.
#pragma once

#include <memory>

#include <QList>
#include <QPointer>
#include <QWidget>

#include "train/dataset-validate.h"

class QBarSeries;
class QBarSet;
class QBarCategoryAxis;
class QChartView;
class QCheckBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTextBrowser;
class QThread;
class QValueAxis;

namespace cyllm::workbench {
class EngineHost;
}

namespace cyllm::ui {

class DatasetsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DatasetsPanel(workbench::EngineHost* engine, QWidget* parent = nullptr);
  ~DatasetsPanel() override;

  // Validates the file in the background; validated() follows.
  void openDataset(const QString& path);
  void setCutoff(int tokens);
  bool busy() const { return !workers_.isEmpty(); }
  QTableWidget* problemsTable() const { return problems_; }
  QString formatText() const;
  QString schemaText() const;
  int histogramBars() const;  // non-empty buckets shown
  int histogramOverCutoff() const;  // rows in the buckets drawn as over the cutoff
  // Shows problem row `table_row`'s raw row (and its rendering when a model is loaded).
  void showProblem(int table_row);
  QString rowPreview() const;
  void retranslateUi();

 signals:
  void validated(bool ok);
  void previewReady();

 protected:
  void changeEvent(QEvent* e) override;

 private:
  template <class Work, class Done>
  void runInBackground(Work work, Done done);
  void showResult();
  void showHistogram();
  void showRow(uint64_t row);

  workbench::EngineHost* engine_;
  QString path_;
  std::shared_ptr<train::ValidationResult> result_;
  std::shared_ptr<train::RenderModel> render_model_;
  QString error_;
  uint64_t cutoff_used_ = 0;
  QList<QPointer<QThread>> workers_;

  QPushButton* open_;
  QLabel* path_label_;
  QCheckBox* use_model_;
  QLabel* cutoff_label_;
  QSpinBox* cutoff_;
  QGroupBox* summary_box_;
  QFormLayout* summary_form_;
  QLabel* format_;
  QLabel* schema_;
  QLabel* rows_;
  QLabel* valid_;
  QLabel* problem_count_;
  QLabel* tokens_;
  QChartView* chart_;
  QGroupBox* problems_box_;
  QTableWidget* problems_;
  QGroupBox* preview_box_;
  QPlainTextEdit* raw_;
  QTextBrowser* rendered_;
};

}  // namespace cyllm::ui

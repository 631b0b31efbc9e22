// The Metrics panel: once a second it reads the Scheduler's sliding-window latency percentiles
// (serve/latency.h) and stats, and plots P50/P95/P99 of queue time, TTFT, inter-token time and
// total time, with throughput, prefix-cache hit rate, KV use and the active alerts beside them.
#pragma once

#include <memory>

#include <QStringList>
#include <QTimer>
#include <QWidget>

#include "core/alerts.h"
#include "serve/percentiles.h"

class QFormLayout;
class QGroupBox;
class QLabel;
class QListWidget;

namespace cyllm::workbench {
class EngineHost;
class ServerHost;
}  // namespace cyllm::workbench

namespace cyllm::ui {

class LiveChart;

struct MetricsSample {
  double t_s = 0;  // seconds since the panel started
  PercentileSummary queue, ttft, inter_token, total;
  double tokens_per_s = 0;  // generated tokens per second over the last interval
  double hit_rate = 0;      // prefix cache, 0..1
  int running = 0, waiting = 0;
  int kv_used = 0, kv_total = 0;
  QStringList alerts;
};

class MetricsPanel : public QWidget {
  Q_OBJECT
 public:
  MetricsPanel(workbench::EngineHost* engine, workbench::ServerHost* server, QWidget* parent = nullptr);
  ~MetricsPanel() override;

  void addSample(const MetricsSample& s);
  // Reads the engine now and adds a sample (what the timer does).
  void sampleNow();
  // Live sampling once a second (on by default); off for demo content.
  void setSampling(bool on);
  void clear();
  LiveChart* chart(int i) const { return charts_[i]; }
  void retranslateUi();

 protected:
  void changeEvent(QEvent* e) override;

 private:
  workbench::EngineHost* engine_;
  workbench::ServerHost* server_;
  QTimer timer_;
  double t0_ms_ = 0;
  uint64_t last_generated_ = 0;
  double last_t_ = -1;
  std::unique_ptr<Alerts> alerts_;
  LiveChart* charts_[5];
  QGroupBox* now_box_;
  QFormLayout* now_form_;
  QLabel* throughput_;
  QLabel* hit_rate_;
  QLabel* requests_;
  QLabel* kv_;
  QGroupBox* alerts_box_;
  QListWidget* alert_list_;
};

}  // namespace cyllm::ui

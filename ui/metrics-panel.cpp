#include "ui/metrics-panel.h"

#include <QDateTime>
#include <QEvent>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QLabel>
#include <QListWidget>
#include <QVBoxLayout>

#include "ui/live-chart.h"
#include "workbench/engine-host.h"
#include "workbench/server-host.h"

namespace cyllm::ui {

namespace {
// The same thresholds `cyllm serve` defaults to (server/server-config.h), for when the server is off.
const char* kQueueAlert = "queue_depth_high";
const char* kKvAlert = "kv_usage_high";
}  // namespace

MetricsPanel::MetricsPanel(workbench::EngineHost* engine, workbench::ServerHost* server, QWidget* parent)
    : QWidget(parent), engine_(engine), server_(server) {
  alerts_ = std::make_unique<Alerts>(std::vector<AlertRule>{{kQueueAlert, 64, 8}, {kKvAlert, 0.90, 0.05}});
  auto* grid = new QGridLayout(this);
  for (int i = 0; i < 4; ++i) {
    charts_[i] = new LiveChart(3, this);
    charts_[i]->setMaxPoints(3600);
    grid->addWidget(charts_[i], i / 2, i % 2);
  }
  charts_[4] = new LiveChart(2, this);
  charts_[4]->setMaxPoints(3600);
  grid->addWidget(charts_[4], 2, 0);
  auto* side = new QWidget(this);
  auto* sv = new QVBoxLayout(side);
  sv->setContentsMargins(0, 0, 0, 0);
  now_box_ = new QGroupBox(side);
  now_form_ = new QFormLayout(now_box_);
  throughput_ = new QLabel(now_box_);
  throughput_->setObjectName(QStringLiteral("throughput"));
  hit_rate_ = new QLabel(now_box_);
  hit_rate_->setObjectName(QStringLiteral("hit_rate"));
  requests_ = new QLabel(now_box_);
  kv_ = new QLabel(now_box_);
  for (QLabel* l : {throughput_, hit_rate_, requests_, kv_}) now_form_->addRow(new QLabel(now_box_), l);
  sv->addWidget(now_box_);
  alerts_box_ = new QGroupBox(side);
  auto* av = new QVBoxLayout(alerts_box_);
  alert_list_ = new QListWidget(alerts_box_);
  alert_list_->setObjectName(QStringLiteral("alerts"));
  av->addWidget(alert_list_);
  sv->addWidget(alerts_box_, 1);
  grid->addWidget(side, 2, 1);

  t0_ms_ = double(QDateTime::currentMSecsSinceEpoch());
  timer_.setInterval(1000);
  connect(&timer_, &QTimer::timeout, this, &MetricsPanel::sampleNow);
  timer_.start();
  retranslateUi();
}

MetricsPanel::~MetricsPanel() = default;

void MetricsPanel::retranslateUi() {
  const QStringList pct = {tr("P50"), tr("P95"), tr("P99")};
  charts_[0]->setTitles(tr("Queue time (ms)"), tr("seconds"), tr("ms"), pct);
  charts_[1]->setTitles(tr("Time to first token (ms)"), tr("seconds"), tr("ms"), pct);
  charts_[2]->setTitles(tr("Inter-token time (ms)"), tr("seconds"), tr("ms"), pct);
  charts_[3]->setTitles(tr("Total time (ms)"), tr("seconds"), tr("ms"), pct);
  charts_[4]->setTitles(tr("Throughput and prefix-cache hit rate"), tr("seconds"), QString(),
                        {tr("tokens/s"), tr("hit rate (%)")});
  now_box_->setTitle(tr("Now"));
  const QString labels[] = {tr("Throughput"), tr("Prefix-cache hit rate"), tr("Requests"), tr("KV cache")};
  for (int i = 0; i < 4; ++i)
    if (auto* l = qobject_cast<QLabel*>(now_form_->itemAt(i, QFormLayout::LabelRole)->widget())) l->setText(labels[i]);
  alerts_box_->setTitle(tr("Active alerts"));
  if (throughput_->text().isEmpty() || !engine_->hasModel()) {
    for (QLabel* l : {throughput_, hit_rate_, requests_, kv_}) l->setText(tr("no model loaded"));
  }
}

void MetricsPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

void MetricsPanel::setSampling(bool on) {
  if (on) timer_.start();
  else timer_.stop();
}

void MetricsPanel::clear() {
  for (LiveChart* c : charts_) c->clear();
}

void MetricsPanel::sampleNow() {
  Scheduler* s = engine_->scheduler();
  if (!s) return;
  MetricsSample m;
  m.t_s = (double(QDateTime::currentMSecsSinceEpoch()) - t0_ms_) / 1000.0;
  const double now = engine_->schedulerNowMs();
  const LatencyStats& lat = s->latency();  // thread-safe windows
  m.queue = lat.queue_time(now);
  m.ttft = lat.ttft(now);
  m.inter_token = lat.inter_token(now);
  m.total = lat.total_time(now);
  const SchedulerStats st = s->stats();
  if (last_t_ >= 0 && m.t_s > last_t_)
    m.tokens_per_s = double(st.generated_tokens - last_generated_) / (m.t_s - last_t_);
  last_generated_ = st.generated_tokens;
  last_t_ = m.t_s;
  m.hit_rate = st.prefix.hit_rate();
  m.running = int(st.running);
  m.waiting = int(st.waiting);
  m.kv_used = st.kv_blocks_used;
  m.kv_total = st.kv_blocks_total;
  alerts_->observe(kQueueAlert, double(st.waiting));
  alerts_->observe(kKvAlert, st.kv_blocks_total ? double(st.kv_blocks_used) / st.kv_blocks_total : 0.0);
  for (const auto& a : alerts_->active()) m.alerts << QString::fromStdString(a);
  for (const QString& a : server_->activeAlerts())
    if (!m.alerts.contains(a)) m.alerts << a;
  addSample(m);
}

void MetricsPanel::addSample(const MetricsSample& m) {
  const PercentileSummary* series[] = {&m.queue, &m.ttft, &m.inter_token, &m.total};
  for (int i = 0; i < 4; ++i) {
    if (series[i]->count == 0) continue;  // nothing in the window: no point rather than a fake 0
    charts_[i]->addPoint(0, m.t_s, series[i]->p50);
    charts_[i]->addPoint(1, m.t_s, series[i]->p95);
    charts_[i]->addPoint(2, m.t_s, series[i]->p99);
  }
  charts_[4]->addPoint(0, m.t_s, m.tokens_per_s);
  charts_[4]->addPoint(1, m.t_s, m.hit_rate * 100.0);
  throughput_->setText(tr("%1 tokens/s").arg(m.tokens_per_s, 0, 'f', 1));
  hit_rate_->setText(QStringLiteral("%1 %").arg(m.hit_rate * 100.0, 0, 'f', 1));
  requests_->setText(tr("%1 running, %2 waiting").arg(m.running).arg(m.waiting));
  kv_->setText(tr("%1 of %2 blocks in use").arg(m.kv_used).arg(m.kv_total));
  alert_list_->clear();
  if (m.alerts.isEmpty()) alert_list_->addItem(tr("none"));
  for (const QString& a : m.alerts) alert_list_->addItem(a);
}

}  // namespace cyllm::ui

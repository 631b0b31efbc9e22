// The Metrics panel: percentile series become chart points (an empty window adds none rather than
// a fake zero), the "now" figures and the active alerts are shown, and without a model nothing
// is sampled.
#include <QLabel>
#include <QListWidget>
#include <QTest>

#include "ui-test-env.h"
#include "ui/live-chart.h"
#include "ui/main-window.h"
#include "ui/metrics-panel.h"

using namespace cyllm;

class MetricsTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

 private slots:
  void samplesBecomePointsAndAlerts() {
    ui::MainWindow w(env_.dataDir());
    ui::MetricsPanel* m = w.metrics();
    m->setSampling(false);
    m->sampleNow();  // no model: nothing to read
    QCOMPARE(m->chart(1)->pointCount(0), 0);

    ui::MetricsSample s;
    s.t_s = 1;
    s.tokens_per_s = 123.4;
    s.hit_rate = 0.25;
    s.running = 3;
    s.waiting = 70;
    s.kv_used = 10;
    s.kv_total = 100;
    s.alerts = {QStringLiteral("queue_depth_high")};
    m->addSample(s);  // empty percentile windows
    QCOMPARE(m->chart(1)->pointCount(0), 0);
    QCOMPARE(m->chart(4)->pointCount(0), 1);  // throughput is always a point

    s.t_s = 2;
    s.ttft.count = 4;
    s.ttft.p50 = 40;
    s.ttft.p95 = 90;
    s.ttft.p99 = 120;
    m->addSample(s);
    QCOMPARE(m->chart(1)->pointCount(0), 1);
    QCOMPARE(m->chart(1)->pointCount(2), 1);
    QCOMPARE(m->chart(0)->pointCount(0), 0);  // queue time had no samples

    QCOMPARE(m->findChild<QLabel*>(QStringLiteral("throughput"))->text(), QStringLiteral("123.4 tokens/s"));
    QCOMPARE(m->findChild<QLabel*>(QStringLiteral("hit_rate"))->text(), QStringLiteral("25.0 %"));
    auto* alerts = m->findChild<QListWidget*>(QStringLiteral("alerts"));
    QCOMPARE(alerts->count(), 1);
    QCOMPARE(alerts->item(0)->text(), QStringLiteral("queue_depth_high"));
    s.alerts.clear();
    m->addSample(s);
    QCOMPARE(alerts->item(0)->text(), QStringLiteral("none"));
  }
};

QTEST_MAIN(MetricsTest)
#include "ui-metrics-test.moc"

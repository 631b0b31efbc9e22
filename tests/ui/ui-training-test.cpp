// The Training panel skeleton: the job form is validated as it is typed, a valid job is queued
// (and listed by priority), and progress events become points on the loss chart.
#include <cmath>

#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QTest>

#include "ui-test-env.h"
#include "ui/live-chart.h"
#include "ui/main-window.h"
#include "ui/training-panel.h"
#include "train/train-gemm-bf16.h"

using namespace cyllm;

class TrainingTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

 private slots:
  void formValidatesAsYouType() {
    ui::MainWindow w(env_.dataDir());
    ui::TrainingPanel* t = w.training();
    auto* submit = t->findChild<QPushButton*>(QStringLiteral("submit"));
    auto* model = t->findChild<QLineEdit*>(QStringLiteral("model"));
    // Empty form: model, dataset and output_dir are named.
    QVERIFY(!submit->isEnabled());
    QVERIFY(t->problems().join('\n').contains(QStringLiteral("model")));
    QVERIFY(t->problems().join('\n').contains(QStringLiteral("dataset")));

    // Files that exist (the trainer's config checks them).
    const QString fake_model = env_.path(QStringLiteral("m.gguf"));
    QFile f(fake_model);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("GGUF");
    f.close();
    QTest::keyClicks(model, fake_model);
    t->setField(QStringLiteral("dataset"), QStringLiteral(CYLLM_UI_TEST_DATA "/broken.jsonl"));
    t->setField(QStringLiteral("output_dir"), env_.path(QStringLiteral("out")));
    QVERIFY2(t->problems().isEmpty(), qPrintable(t->problems().join('\n')));
    QVERIFY(submit->isEnabled());

    // A bad value is caught at once.
    auto* rank = t->findChild<QSpinBox*>(QStringLiteral("rank"));
    rank->setValue(0);
    QVERIFY(t->problems().join('\n').contains(QStringLiteral("lora.rank")));
    QVERIFY(!submit->isEnabled());
    rank->setValue(8);
    QVERIFY(submit->isEnabled());

    // Precision: float32 by default; bf16 selectable only where the CPU has AVX512-BF16.
    auto* precision = t->findChild<QComboBox*>(QStringLiteral("precision"));
    QVERIFY(precision);
    QCOMPARE(QString::fromStdString(t->configJson()["precision"].get<std::string>()), QStringLiteral("f32"));
    auto* items = qobject_cast<QStandardItemModel*>(precision->model());
    QVERIFY(items);
    if (train::bf16_gemm_available()) {
      QVERIFY(items->item(1)->isEnabled());
      precision->setCurrentIndex(1);
      QCOMPARE(QString::fromStdString(t->configJson()["precision"].get<std::string>()), QStringLiteral("bf16"));
      QVERIFY2(t->problems().isEmpty(), qPrintable(t->problems().join('\n')));
      precision->setCurrentIndex(0);
    } else {
      QVERIFY(!items->item(1)->isEnabled());
      QVERIFY(precision->toolTip().contains(QStringLiteral("AVX512-BF16")));
    }

    QTest::mouseClick(submit, Qt::LeftButton);
    auto* jobs = t->findChild<QTableWidget*>(QStringLiteral("jobs"));
    QCOMPARE(jobs->rowCount(), 1);
    QCOMPARE(jobs->item(0, 2)->text(), QStringLiteral("queued"));
  }

  void progressReachesTheChart() {
    ui::MainWindow w(env_.dataDir());
    ui::TrainingPanel* t = w.training();
    for (int s = 1; s <= 50; ++s) {
      train::TrainEvent e;
      e.step = s;
      e.total_steps = 50;
      e.loss = 2.0 / s;
      if (s % 10 == 0) e.eval_loss = 2.5 / s;
      t->addProgress(e);
    }
    QCOMPARE(t->lossChart()->pointCount(0), 50);
    QCOMPARE(t->lossChart()->pointCount(1), 5);
    // The chart shows them within its 100 ms refresh.
    QVERIFY(test::waitUntil([&] { return t->lossChart()->shownCount(0) == 50; }, 2000));
  }

  void thousandsOfPointsStaySmooth() {
    ui::MainWindow w(env_.dataDir());
    w.resize(1280, 800);
    w.show();
    w.showPanel(ui::MainWindow::kTraining);
    ui::TrainingPanel* t = w.training();
    // 10 Hz for ~8 minutes of training: one refresh (replace + rescale + repaint) stays far below
    // the 100 ms between refreshes.
    for (int s = 1; s <= 5000; ++s) {
      train::TrainEvent e;
      e.step = s;
      e.total_steps = 5000;
      e.loss = 2.0 / std::sqrt(double(s)) + 0.01 * (s % 7);
      t->addProgress(e);
    }
    QElapsedTimer timer;
    timer.start();
    t->lossChart()->flush();
    t->lossChart()->grab();  // forces the paint
    const qint64 ms = timer.elapsed();
    QCOMPARE(t->lossChart()->shownCount(0), 5000);
    QVERIFY2(ms < 400, qPrintable(QStringLiteral("one refresh of 5000 points took %1 ms").arg(ms)));
  }
};

QTEST_MAIN(TrainingTest)
#include "ui-training-test.moc"

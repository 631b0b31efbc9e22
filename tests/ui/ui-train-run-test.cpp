// The Training panel runs the queue: Start trains on a worker thread (a tiny generated model, so
// it is quick and needs no download), progress reaches the loss chart in batches, closing the
// window mid-run returns quickly with the job checkpointed and queued again, and the next Start
// resumes it from that checkpoint.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>

#include <nlohmann/json.hpp>

#include "tiny-train-model.h"
#include "train/checkpoint.h"
#include "train/job-queue.h"
#include "train/trainer.h"
#include "ui-test-env.h"
#include "ui/checkpoint-list.h"
#include "ui/live-chart.h"
#include "ui/main-window.h"
#include "ui/training-panel.h"
#include "workbench/engine-host.h"

using namespace cyllm;

namespace {

const test::TinyTrainModel& tinyModel() {
  static const test::TinyTrainModel tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0});
  return tm;
}

std::vector<train::TrainExample> patternRows(int n, int vocab, int len) {
  std::vector<train::TrainExample> rows;
  for (int r = 0; r < n; ++r) {
    train::TrainExample ex;
    int x = (r * 7 + 1) % vocab;
    for (int i = 0; i < len; ++i) {
      ex.ids.push_back(x);
      ex.mask.push_back(i >= 2 ? 1 : 0);
      x = (3 * x + 1) % vocab;
    }
    rows.push_back(ex);
  }
  return rows;
}

Result<std::unique_ptr<train::Trainer>> tinyTrainer(const train::TrainConfig& c, ThreadPool& pool) {
  const int V = tinyModel().model->config().n_vocab;
  return std::make_unique<train::Trainer>(c, *tinyModel().model, patternRows(7, V, 10),
                                          std::vector<train::TrainExample>{}, pool);
}

}  // namespace

class TrainRunTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

  QString queuePath() const { return QDir(env_.dataDir()).filePath(QStringLiteral("jobs.sqlite")); }

  // Queues a job whose model and dataset files only have to exist (the tiny trainer ignores them).
  qint64 submit(const QString& out, int steps, int checkpoint_every = 0) {
    for (const char* f : {"model.gguf", "data.jsonl"}) {
      QFile file(env_.path(QString::fromLatin1(f)));
      if (!file.open(QIODevice::WriteOnly)) return 0;
      file.write("placeholder\n");
    }
    nlohmann::json j = {{"model", env_.path(QStringLiteral("model.gguf")).toStdString()},
                        {"dataset", env_.path(QStringLiteral("data.jsonl")).toStdString()},
                        {"output_dir", env_.path(out).toStdString()},
                        {"threads", 1},
                        {"lora", {{"rank", 4}, {"alpha", 8}}},
                        {"optim", {{"lr", 1e-2}, {"batch_size", 2}, {"max_steps", steps}}}};
    if (checkpoint_every > 0) j["checkpoint"] = {{"every", checkpoint_every}};
    auto q = JobQueue::open(queuePath().toStdString());
    if (!q) return 0;
    auto id = (*q)->submit(j.dump(), 0);
    return id ? *id : 0;
  }
  static JobState stateOf(qint64 id, const QString& path) {
    auto q = JobQueue::open(path.toStdString());
    if (!q) return JobState::kFailed;
    auto j = (*q)->get(id);
    return j ? j->state : JobState::kFailed;
  }

 private slots:
  void startTrainsAndChartsLoss() {
    ui::MainWindow w(env_.dataDir());
    ui::TrainingPanel* t = w.training();
    const qint64 id = submit(QStringLiteral("out-5"), 5);
    QVERIFY(id > 0);
    t->refreshQueue();
    t->setTrainerFactory(tinyTrainer);
    QSignalSpy finished(t, &ui::TrainingPanel::runnerFinished);
    auto* start = t->findChild<QPushButton*>(QStringLiteral("start"));
    auto* stop = t->findChild<QPushButton*>(QStringLiteral("stop"));
    QVERIFY(start->isEnabled());
    QVERIFY(!stop->isEnabled());
    QTest::mouseClick(start, Qt::LeftButton);
    QVERIFY(t->runnerActive());
    QVERIFY(!start->isEnabled());
    QVERIFY(stop->isEnabled());
    // The chart gains the run's points while the GUI thread stays free.
    QVERIFY(test::waitUntil([&] { return finished.count() == 1; }, 60000));
    QCOMPARE(t->lossChart()->pointCount(0), 5);
    QVERIFY(test::waitUntil([&] { return t->lossChart()->shownCount(0) == 5; }, 2000));
    QCOMPARE(stateOf(id, queuePath()), JobState::kDone);
    auto* jobs = t->findChild<QTableWidget*>(QStringLiteral("jobs"));
    QCOMPARE(jobs->item(0, 2)->text(), QStringLiteral("done"));
    QVERIFY(start->isEnabled());
    QVERIFY(!t->runnerActive());
  }

  void closeDuringTrainingCheckpointsAndResumes() {
    const qint64 id = submit(QStringLiteral("out-long"), 100000);
    QVERIFY(id > 0);
    int shown_before = 0;
    {
      ui::MainWindow w(env_.dataDir());
      w.show();
      ui::TrainingPanel* t = w.training();
      t->setTrainerFactory(tinyTrainer);
      QVERIFY(t->startRunner());
      QVERIFY(test::waitUntil([&] { return t->lossChart()->pointCount(0) >= 3; }, 60000));
      shown_before = t->lossChart()->pointCount(0);
      QElapsedTimer timer;
      timer.start();
      w.close();
      QVERIFY2(timer.elapsed() < 5000, qPrintable(QStringLiteral("close took %1 ms").arg(timer.elapsed())));
      QVERIFY(!t->runnerActive());
    }
    // Back in the queue, with a checkpoint at the step it stopped.
    QCOMPARE(stateOf(id, queuePath()), JobState::kQueued);
    auto ck = CheckpointStore(QDir(env_.path(QStringLiteral("out-long"))).filePath(QStringLiteral("checkpoints")).toStdString())
                  .find_latest();
    QVERIFY(ck.ok());
    QVERIFY(ck->has_value());
    QVERIFY((*ck)->state.step >= shown_before);

    // The next Start resumes it from there.
    ui::MainWindow w(env_.dataDir());
    ui::TrainingPanel* t = w.training();
    t->setTrainerFactory(tinyTrainer);
    QVERIFY(t->startRunner());
    QVERIFY(test::waitUntil([&] { return t->lossChart()->pointCount(0) >= 1; }, 60000));
    QCOMPARE(t->resumedFrom(), qint64((*ck)->state.step));
    t->stopRunner();
    QCOMPARE(stateOf(id, queuePath()), JobState::kQueued);
  }

  void pauseButtonStopsTheRunningJob() {
    // The long job of the previous test is still queued.
    ui::MainWindow w(env_.dataDir());
    ui::TrainingPanel* t = w.training();
    t->setTrainerFactory(tinyTrainer);
    QSignalSpy finished(t, &ui::TrainingPanel::runnerFinished);
    QVERIFY(t->startRunner());
    QVERIFY(test::waitUntil([&] { return t->lossChart()->pointCount(0) >= 1; }, 60000));
    auto* jobs = t->findChild<QTableWidget*>(QStringLiteral("jobs"));
    int row = -1;
    for (int r = 0; r < jobs->rowCount(); ++r)
      if (jobs->item(r, 2)->text() == QStringLiteral("running")) row = r;
    QVERIFY(row >= 0);
    const qint64 id = jobs->item(row, 0)->text().toLongLong();
    jobs->selectRow(row);
    QTest::mouseClick(t->findChild<QPushButton*>(QStringLiteral("pause")), Qt::LeftButton);
    // The runner sees the request, checkpoints, records paused; nothing else is queued, so it ends.
    QVERIFY(test::waitUntil([&] { return finished.count() == 1; }, 10000));
    QCOMPARE(stateOf(id, queuePath()), JobState::kPaused);
    for (int r = 0; r < jobs->rowCount(); ++r)
      if (jobs->item(r, 0)->text().toLongLong() == id) jobs->selectRow(r);
    QTest::mouseClick(t->findChild<QPushButton*>(QStringLiteral("resume")), Qt::LeftButton);
    QCOMPARE(stateOf(id, queuePath()), JobState::kQueued);
    QTest::mouseClick(t->findChild<QPushButton*>(QStringLiteral("pause")), Qt::LeftButton);  // out of the next test's way
    QCOMPARE(stateOf(id, queuePath()), JobState::kPaused);
  }

  void checkpointListResumesAndServes() {
    ui::MainWindow w(env_.dataDir());
    ui::TrainingPanel* t = w.training();
    const qint64 id = submit(QStringLiteral("out-ck"), 6, 2);
    QVERIFY(id > 0);
    t->refreshQueue();
    t->setTrainerFactory(tinyTrainer);
    QSignalSpy finished(t, &ui::TrainingPanel::runnerFinished);
    QVERIFY(t->startRunner());
    QVERIFY(test::waitUntil([&] { return finished.count() == 1; }, 60000));
    QCOMPARE(stateOf(id, queuePath()), JobState::kDone);
    // The job's run: checkpoints at steps 2, 4 and 6, newest first, with their losses.
    auto* jobs = t->findChild<QTableWidget*>(QStringLiteral("jobs"));
    for (int r = 0; r < jobs->rowCount(); ++r)
      if (jobs->item(r, 0)->text().toLongLong() == id) jobs->selectRow(r);
    ui::CheckpointList* ck = t->checkpoints();
    QCOMPARE(ck->run(), env_.path(QStringLiteral("out-ck")));
    QCOMPARE(ck->count(), 3);
    auto* table = ck->findChild<QTableWidget*>(QStringLiteral("checkpoints"));
    QCOMPARE(table->item(0, 0)->text(), QStringLiteral("6"));
    QCOMPARE(table->item(2, 0)->text(), QStringLiteral("2"));
    QVERIFY(table->item(1, 1)->text().toDouble() > 0);
    auto* resume = ck->findChild<QPushButton*>(QStringLiteral("resume_from"));
    auto* serve = ck->findChild<QPushButton*>(QStringLiteral("serve_checkpoint"));
    QVERIFY(!resume->isEnabled());  // nothing selected yet
    QVERIFY(ck->selectStep(4));
    QVERIFY(resume->isEnabled());

    // "Use as adapter" hands the checkpoint on (the main window loads it; see ui-new-user-test);
    // with no model loaded here it says so and nothing is registered.
    QSignalSpy served(t, &ui::TrainingPanel::serveCheckpointRequested);
    QTest::mouseClick(serve, Qt::LeftButton);
    QCOMPARE(served.count(), 1);
    const QString ck4 = served.at(0).at(0).toString();
    QVERIFY(ck4.endsWith(QStringLiteral("ckpt-0000000004")));
    QVERIFY(w.engine()->adapters().isEmpty());

    // "Resume from here": a new job in its own folder continues from step 4 to 6; the original
    // run keeps its checkpoints.
    QTest::mouseClick(resume, Qt::LeftButton);
    const QString branch = env_.path(QStringLiteral("out-ck-from-step4"));
    QVERIFY(QFileInfo::exists(branch + QStringLiteral("/checkpoints/ckpt-0000000004/manifest.json")));
    qint64 id2 = 0;
    for (int r = 0; r < jobs->rowCount(); ++r) id2 = std::max(id2, jobs->item(r, 0)->text().toLongLong());
    QVERIFY(id2 > id);
    QCOMPARE(stateOf(id2, queuePath()), JobState::kQueued);
    QVERIFY(t->startRunner());
    QVERIFY(test::waitUntil([&] { return finished.count() == 2; }, 60000));
    QCOMPARE(t->resumedFrom(), qint64(4));
    QCOMPARE(stateOf(id2, queuePath()), JobState::kDone);
    QCOMPARE(CheckpointStore(branch.toStdString() + "/checkpoints").list().back().state.step, int64_t(6));
    QCOMPARE(CheckpointStore(env_.path(QStringLiteral("out-ck/checkpoints")).toStdString()).list().size(), size_t(3));
  }
};

QTEST_MAIN(TrainRunTest)
#include "ui-train-run-test.moc"

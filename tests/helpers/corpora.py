"""Small poem corpora for tiny poetry tokenizers and models."""

POEMS = [
    ("登鹳雀楼", "白日依山尽，\n黄河入海流。\n欲穷千里目，\n更上一层楼。"),
    ("静夜思", "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。"),
    ("春晓", "春眠不觉晓，\n处处闻啼鸟。\n夜来风雨声，\n花落知多少。"),
    ("枫桥夜泊", "月落乌啼霜满天，\n江枫渔火对愁眠。\n姑苏城外寒山寺，\n夜半钟声到客船。"),
    ("黄鹤楼送孟浩然之广陵", "故人西辞黄鹤楼，\n烟花三月下扬州。\n孤帆远影碧空尽，\n唯见长江天际流。"),
    ("春望", "国破山河在，\n城春草木深。\n感时花溅泪，\n恨别鸟惊心。\n烽火连三月，\n家书抵万金。\n白头搔更短，\n浑欲不胜簪。"),
    ("登高", "风急天高猿啸哀，\n渚清沙白鸟飞回。\n无边落木萧萧下，\n不尽长江滚滚来。\n万里悲秋常作客，\n百年多病独登台。\n"
             "艰难苦恨繁霜鬓，\n潦倒新停浊酒杯。"),
]

ENGLISH = ["the moon is bright upon the sea\nthe night is calm and still\n"
           "the stars are shining down on me\nupon the silent hill"]

VOCAB_EXTRA = "春夏秋冬风花雪月山水云天江河日夜明光"

